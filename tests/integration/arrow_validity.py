"""Every result a test reads from the server must be valid Arrow: full validation
(`validate(full=True)`), plus a decimal check that Arrow's own validation lacks (it lets
decimal128's minimum, -2^127, pass as fitting any precision because its absolute value
overflows).

`install(monkeypatch)` (used by conftest for the whole run) makes the ADBC DB-API cursor
(`fetchone`/`fetchmany`/`fetchall`, `fetch_arrow_table`, `fetch_df`, `fetch_record_batch`) and
the `pyarrow.flight` client from `flight.connect` (`do_get` and its reader) validate every batch
they hand to a test; a result that is not valid raises `pyarrow.ArrowInvalid`.
"""
import decimal

import pyarrow as pa
import pyarrow.flight as flight
from adbc_driver_manager import dbapi as adbc_dbapi


def _decimal_arrays(array):
    """The decimal arrays at any depth of `array` (children whole, as they are sent)."""
    t = array.type
    if isinstance(t, pa.BaseExtensionType):
        yield from _decimal_arrays(array.storage)
    elif pa.types.is_decimal(t):
        yield array
    elif pa.types.is_dictionary(t):
        yield from _decimal_arrays(array.dictionary)
    elif pa.types.is_map(t):
        yield from _decimal_arrays(array.keys)
        yield from _decimal_arrays(array.items)
    elif (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
          or pa.types.is_list_view(t) or pa.types.is_large_list_view(t)):
        yield from _decimal_arrays(array.values)
    elif pa.types.is_struct(t) or pa.types.is_union(t):
        for i in range(t.num_fields):
            yield from _decimal_arrays(array.field(i))


def _unscaled(value, scale):
    sign, digits, exponent = value.as_tuple()
    magnitude = int("".join(map(str, digits))) * 10 ** (exponent + scale)  # exact: ints only
    return -magnitude if sign else magnitude


def validate_fully(data):
    """Raises pyarrow.ArrowInvalid unless `data` (Table, RecordBatch or Array) is valid Arrow
    whose decimals all fit their precision. Returns `data`."""
    data.validate(full=True)
    if isinstance(data, pa.Table):
        columns = [(name, chunk) for name, column in zip(data.column_names, data.columns)
                   for chunk in column.chunks]
    elif isinstance(data, pa.RecordBatch):
        columns = list(zip(data.schema.names, data.columns))
    else:
        columns = [("", data)]
    for name, column in columns:
        for array in _decimal_arrays(column):
            limit = 10 ** array.type.precision
            for value in array.to_pylist():
                if value is None or not isinstance(value, decimal.Decimal):
                    continue
                if not -limit < _unscaled(value, array.type.scale) < limit:
                    raise pa.ArrowInvalid(f"column {name!r}: decimal value {value} does not fit "
                                          f"in precision of {array.type}")
    return data


class ValidatingStreamReader:
    """A pyarrow.flight FlightStreamReader whose reads validate what they return."""

    def __init__(self, reader):
        self._reader = reader

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def __enter__(self):
        self._reader.__enter__()
        return self

    def __exit__(self, *exc):
        return self._reader.__exit__(*exc)

    def __iter__(self):
        for chunk in self._reader:
            if chunk.data is not None:
                validate_fully(chunk.data)
            yield chunk

    def read_chunk(self):
        chunk = self._reader.read_chunk()
        if chunk.data is not None:
            validate_fully(chunk.data)
        return chunk

    def read_all(self):
        return validate_fully(self._reader.read_all())

    def read_pandas(self, **options):
        return self.read_all().to_pandas(**options)

    def to_reader(self):
        schema = self._reader.schema
        return pa.RecordBatchReader.from_batches(
            schema, (validate_fully(chunk.data) for chunk in self._reader))


class ValidatingFlightClient:
    """A pyarrow.flight.FlightClient whose DoGet streams validate every batch."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def __enter__(self):
        self._client.__enter__()
        return self

    def __exit__(self, *exc):
        return self._client.__exit__(*exc)

    def do_get(self, *args, **kwargs):
        return ValidatingStreamReader(self._client.do_get(*args, **kwargs))


def _validating_fetchone(original):
    def fetchone(self):
        before = self._current_batch
        row = original(self)
        if self._current_batch is not None and self._current_batch is not before:
            validate_fully(self._current_batch)
        return row
    return fetchone


def _validating(original):
    def fetch(self, *args, **kwargs):
        return validate_fully(original(self, *args, **kwargs))
    return fetch


def _fetch_df(self):
    return self.fetch_arrow_table().to_pandas()  # validated by the patched fetch_arrow_table


def _fetch_record_batch(self):
    reader = _original_fetch_record_batch(self)
    return pa.RecordBatchReader.from_batches(
        reader.schema, (validate_fully(batch) for batch in reader))


_original_fetch_record_batch = adbc_dbapi.Cursor.fetch_record_batch


def install(monkeypatch):
    rows = adbc_dbapi._RowIterator
    monkeypatch.setattr(rows, "fetchone", _validating_fetchone(rows.fetchone))
    monkeypatch.setattr(rows, "fetch_arrow_table", _validating(rows.fetch_arrow_table))
    monkeypatch.setattr(rows, "fetch_df", _fetch_df)
    monkeypatch.setattr(adbc_dbapi.Cursor, "fetch_record_batch", _fetch_record_batch)
    original_connect = flight.connect
    monkeypatch.setattr(flight, "connect",
                        lambda *args, **kwargs: ValidatingFlightClient(
                            original_connect(*args, **kwargs)))
