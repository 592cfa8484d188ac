"""Just enough protobuf to speak Flight SQL from raw pyarrow.flight in tests: encode the few
commands the edge-case tests send and decode the replies. Field numbers follow the Flight SQL
spec (proto/flight_sql.proto)."""
import pyarrow as pa

PREFIX = "type.googleapis.com/arrow.flight.protocol.sql."


def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(fields):
    """fields: list of (number, value); str/bytes are length-delimited, bool/int are varints."""
    out = bytearray()
    for number, value in fields:
        if value is None:
            continue
        if isinstance(value, str):
            value = value.encode()
        if isinstance(value, (bytes, bytearray)):
            out += _varint(number << 3 | 2) + _varint(len(value)) + value
        else:
            out += _varint(number << 3 | 0) + _varint(int(value))
    return bytes(out)


def decode(data):
    """Returns {field number: [values]}; varints as int, length-delimited as bytes."""
    fields, i = {}, 0
    data = bytes(data)

    def read_varint():
        nonlocal i
        shift = result = 0
        while True:
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    while i < len(data):
        key = read_varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = read_varint()
        elif wire == 2:
            n = read_varint()
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def signed(n):
    """An int64 field read as an unsigned varint, back to its signed value."""
    return n - (1 << 64) if n >= 1 << 63 else n


def any_of(message_name, fields):
    """A google.protobuf.Any wrapping the Flight SQL message `message_name`."""
    return encode([(1, PREFIX + message_name), (2, encode(fields))])


def unpack_any(data):
    f = decode(data)
    return f[1][0].decode(), decode(f.get(2, [b""])[0])


def statement_query(sql, transaction_id=None):
    return any_of("CommandStatementQuery", [(1, sql), (2, transaction_id)])


def statement_update(sql, transaction_id=None):
    return any_of("CommandStatementUpdate", [(1, sql), (2, transaction_id)])


def create_prepared_request(sql, transaction_id=None):
    return any_of("ActionCreatePreparedStatementRequest", [(1, sql), (2, transaction_id)])


def prepared_query(handle):
    return any_of("CommandPreparedStatementQuery", [(1, handle)])


def prepared_update(handle):
    return any_of("CommandPreparedStatementUpdate", [(1, handle)])


def close_prepared_request(handle):
    return any_of("ActionClosePreparedStatementRequest", [(1, handle)])


def schema_from_ipc(data):
    """Flight SQL carries schemas as an IPC-encapsulated Schema message."""
    if not data:
        return None
    return pa.ipc.read_schema(pa.py_buffer(bytes(data)))
