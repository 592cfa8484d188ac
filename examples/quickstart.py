"""The README quick start: create a table, insert, query with a parameter, get pandas.

Run with the server up (scripts/serve.sh):  .venv/bin/python examples/quickstart.py [URI]
"""
import sys

import adbc_driver_flightsql.dbapi

uri = sys.argv[1] if len(sys.argv) > 1 else "grpc://localhost:50051"
conn = adbc_driver_flightsql.dbapi.connect(uri)
cur = conn.cursor()
cur.execute("CREATE TABLE t (id INTEGER, name VARCHAR)")
cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
cur.execute("SELECT * FROM t WHERE id > ?", parameters=(0,))
table = cur.fetch_arrow_table()
print(table)
print(table.to_pandas())
conn.commit()
cur.close()
conn.close()
