// Loading ADBC drivers the way a driver manager does: short names, paths, entry points, and
// the errors for everything that can go wrong.
#include "engine/adbc_driver.h"

#include <gtest/gtest.h>

#include <fstream>

#include "adbc_test_util.h"

namespace hyprstream::engine {
namespace {

TEST(AdbcDriverTest, ShortNameLoadsTheVenvDriver) {
  auto where = ResolveAdbcDriver({{"driver", "sqlite"}}, "");
  ASSERT_TRUE(where.ok()) << where.status().ToString();
  EXPECT_NE(where->path.find("adbc_driver_sqlite/libadbc_driver_sqlite.so"), std::string::npos);
  auto library = AdbcDriverLibrary::Load(*where);
  ASSERT_TRUE(library.ok()) << library.status().ToString();
  EXPECT_EQ((*library)->version(), ADBC_VERSION_1_1_0);
  EXPECT_NE((*library)->driver()->DatabaseNew, nullptr);
}

TEST(AdbcDriverTest, DriverInferredFromUri) {
  EXPECT_EQ(AdbcDriverForUri("postgresql://localhost:5432/metrics"), "postgresql");
  EXPECT_EQ(AdbcDriverForUri("postgres://h/db"), "postgresql");
  EXPECT_EQ(AdbcDriverForUri("grpc://127.0.0.1:1"), "flightsql");
  EXPECT_EQ(AdbcDriverForUri("grpc+tls://h:1"), "flightsql");
  EXPECT_EQ(AdbcDriverForUri("file:/tmp/x.db?mode=ro"), "sqlite");
  EXPECT_EQ(AdbcDriverForUri("/tmp/data.sqlite"), "sqlite");
  EXPECT_EQ(AdbcDriverForUri("mysql://h/db"), "");
  auto where = ResolveAdbcDriver({}, "postgresql://localhost/metrics");
  ASSERT_TRUE(where.ok()) << where.status().ToString();
  EXPECT_NE(where->path.find("libadbc_driver_postgresql.so"), std::string::npos);
  auto unknown = ResolveAdbcDriver({}, "mysql://h/db");
  EXPECT_TRUE(unknown.status().IsInvalid());
  EXPECT_NE(unknown.status().message().find("driver=postgresql|sqlite|flightsql"),
            std::string::npos);
}

TEST(AdbcDriverTest, EntryPointDerivedFromTheFileName) {
  // The SQLite driver exports AdbcDriverSqliteInit as well; naming it explicitly must work.
  auto where =
      ResolveAdbcDriver({{"driver", "sqlite"}, {"entrypoint", "AdbcDriverSqliteInit"}}, "");
  ASSERT_TRUE(where.ok());
  auto library = AdbcDriverLibrary::Load(*where);
  ASSERT_TRUE(library.ok()) << library.status().ToString();
}

TEST(AdbcDriverTest, UnknownShortNameListsTheAcceptedOnes) {
  auto where = ResolveAdbcDriver({{"driver", "oracle"}}, "");
  ASSERT_TRUE(where.status().IsInvalid());
  EXPECT_NE(where.status().message().find("unknown ADBC driver 'oracle'"), std::string::npos);
  EXPECT_NE(where.status().message().find("postgresql"), std::string::npos);
  EXPECT_NE(where.status().message().find("sqlite"), std::string::npos);
  EXPECT_NE(where.status().message().find("flightsql"), std::string::npos);
}

TEST(AdbcDriverTest, MissingFile) {
  auto library = AdbcDriverLibrary::Load({"/nonexistent/libadbc_driver_x.so", ""});
  ASSERT_TRUE(library.status().IsInvalid());
  EXPECT_NE(library.status().message().find("not found: /nonexistent/libadbc_driver_x.so"),
            std::string::npos);
}

TEST(AdbcDriverTest, NotALibrary) {
  testing::TempSqliteFile dir;
  std::string path = dir.path() + ".so";
  { std::ofstream(path) << "not an ELF file"; }
  auto library = AdbcDriverLibrary::Load({path, ""});
  ASSERT_TRUE(library.status().IsInvalid());
  EXPECT_NE(library.status().message().find("not a loadable shared library"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(AdbcDriverTest, LibraryWithoutEntryPoint) {
  auto library = AdbcDriverLibrary::Load({"/lib/x86_64-linux-gnu/libz.so.1", ""});
  ASSERT_TRUE(library.status().IsInvalid()) << library.status().ToString();
  EXPECT_NE(library.status().message().find("is not an ADBC driver"), std::string::npos);
  EXPECT_NE(library.status().message().find("AdbcDriverInit"), std::string::npos);
}

TEST(AdbcDriverTest, WrongEntryPoint) {
  auto where = ResolveAdbcDriver({{"driver", "sqlite"}, {"entrypoint", "NoSuchInit"}}, "");
  ASSERT_TRUE(where.ok());
  auto library = AdbcDriverLibrary::Load(*where);
  ASSERT_TRUE(library.status().IsInvalid());
  EXPECT_NE(library.status().message().find("no entry point NoSuchInit"), std::string::npos);
}

}  // namespace
}  // namespace hyprstream::engine
