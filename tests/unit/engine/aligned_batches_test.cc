// AlignedBatch / AlignedBatches: a buffer at an odd address (as the ADBC PostgreSQL driver and
// Flight hand out) comes out aligned to its values' size with the same values; an aligned
// batch comes out with its own buffers, uncopied.
#include "engine/aligned_batches.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace hyprstream::engine {
namespace {

// A batch of one int64 column whose values start `shift` bytes into an allocation.
std::shared_ptr<arrow::RecordBatch> Int64sAt(int64_t shift, std::shared_ptr<arrow::Buffer>* keep) {
  const int64_t values[] = {7, -3, 1LL << 40, 0};
  auto raw = *arrow::AllocateBuffer(sizeof(values) + 8);
  std::memcpy(raw->mutable_data() + shift, values, sizeof(values));
  *keep = std::shared_ptr<arrow::Buffer>(std::move(raw));
  auto data = arrow::SliceBuffer(*keep, shift, sizeof(values));
  auto array = std::make_shared<arrow::Int64Array>(4, data);
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("v", arrow::int64())}), 4, {array});
}

const uint8_t* ValuesOf(const arrow::RecordBatch& batch) {
  return batch.column_data(0)->buffers[1]->data();
}

TEST(AlignedBatch, AMisalignedBufferIsCopiedToAnAlignedOne) {
  std::shared_ptr<arrow::Buffer> keep;
  auto odd = Int64sAt(3, &keep);
  ASSERT_NE(reinterpret_cast<uintptr_t>(ValuesOf(*odd)) % 8, 0u);
  auto aligned = AlignedBatch(odd);
  ASSERT_TRUE(aligned.ok()) << aligned.status().ToString();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ValuesOf(**aligned)) % 8, 0u);
  EXPECT_TRUE((*aligned)->Equals(*odd));
}

TEST(AlignedBatch, AnAlignedBatchKeepsItsBuffers) {
  std::shared_ptr<arrow::Buffer> keep;
  auto even = Int64sAt(8, &keep);
  auto aligned = AlignedBatch(even);
  ASSERT_TRUE(aligned.ok());
  EXPECT_EQ(ValuesOf(**aligned), ValuesOf(*even));
  auto none = AlignedBatch(nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
}

TEST(AlignedBatches, EachBatchReadIsAligned) {
  std::shared_ptr<arrow::Buffer> keep_odd, keep_even;
  auto odd = Int64sAt(5, &keep_odd);
  auto even = Int64sAt(0, &keep_even);
  auto reader = *arrow::RecordBatchReader::Make({odd, even});
  auto aligned = AlignedBatches(reader);
  EXPECT_TRUE(aligned->schema()->Equals(*odd->schema()));
  int read = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ASSERT_TRUE(aligned->ReadNext(&batch).ok());
    if (!batch) break;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ValuesOf(*batch)) % 8, 0u);
    EXPECT_TRUE(batch->Equals(read == 0 ? *odd : *even));
    ++read;
  }
  EXPECT_EQ(read, 2);
}

}  // namespace
}  // namespace hyprstream::engine
