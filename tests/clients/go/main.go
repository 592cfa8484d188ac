// Smoke test of a hyprstream server through the arrow-go Flight SQL client
// (github.com/apache/arrow-go/v18/arrow/flight/flightsql).
//
// Usage: go-client HOST:PORT (go-client grants ...: grants.go)
//
//	go-client HOST:PORT --read-only TABLE ROWS [USER PASSWORD]
//
// The second form checks what a read_only caller (a read_only user, or anyone under
// --readonly) may do: queries and transactions (Flight SQL and SQL BEGIN/COMMIT/ROLLBACK, as
// updates and prepared), while every write inside is refused with PERMISSION_DENIED and
// TABLE keeps its ROWS rows. It logs in with USER and PASSWORD when given.
//
//	go-client HOST:PORT --burst N USER PASSWORD
//
// The third form is a load generator, not a check: N clients, each on its own channel (its
// own session), log in at the same moment, then all send their first statement at the same
// moment. It prints one JSON line {"admitted": [...], "refused": [...], "other": [...]}
// (client numbers; "messages" maps each error text to its count), holds the admitted
// sessions open until a line arrives on stdin, then closes them (CloseSession) and exits.
//
// Every check runs even when an earlier one failed; each prints "PASS name" or
// "FAIL name: reason". The program ends with "N passed, M failed" and exits 1 when
// any check failed.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var (
	cl      *flightsql.Client
	mem     = memory.NewGoAllocator()
	suffix  = randomSuffix()
	passed  int
	failed  []string
	timeout = 60 * time.Second
	// checkCtx is the context of the running check (checks run one at a time).
	checkCtx context.Context
	// baseCtx is what every check's context derives from: it carries the bearer token after
	// a login.
	baseCtx = context.Background()
)

func main() {
	if len(os.Args) == 7 && os.Args[1] == "grants" {
		grantsMain(os.Args[2:]) // grants.go
	}
	if len(os.Args) == 6 && os.Args[2] == "--burst" {
		burstMain(os.Args[1], os.Args[3], os.Args[4], os.Args[5])
		return
	}
	readOnly := len(os.Args) >= 5 && os.Args[2] == "--read-only"
	if !(len(os.Args) == 2 || (readOnly && (len(os.Args) == 5 || len(os.Args) == 7))) {
		fmt.Fprintln(os.Stderr, "usage: go-client HOST:PORT [--read-only TABLE ROWS [USER PASSWORD]]")
		os.Exit(2)
	}
	addr := os.Args[1]
	fmt.Println("server:", addr)
	if readOnly {
		readOnlyMain(addr, os.Args[3], os.Args[4], os.Args[5:])
		return
	}

	check("connect", func(ctx context.Context) error {
		var err error
		cl, err = flightsql.NewClient(addr, nil, nil,
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		// The connection is lazy: one round trip proves the server answers.
		_, err = cl.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName})
		return err
	})
	if cl == nil {
		finish()
	}
	defer cl.Close()

	queryChecks()
	preparedChecks()
	updateChecks()
	scriptChecks()
	transactionChecks()
	ingestChecks()
	metadataChecks()
	sqlInfoChecks()
	xdbcTypeInfoChecks()
	sessionAndCancelChecks()
	finish()
}

// ---------------------------------------------------------------------------------------
// Queries

func queryChecks() {
	check("query: values and Arrow types", func(ctx context.Context) error {
		info, err := cl.Execute(ctx, "SELECT 42::INTEGER AS i, 9000000000::BIGINT AS big,"+
			" 'héllo' AS s, 2.5::DOUBLE AS d, TRUE AS b, NULL::INTEGER AS n,"+
			" DATE '2024-02-29' AS dt, TIMESTAMP '2024-01-02 03:04:05.123456' AS ts,"+
			" 12.34::DECIMAL(10,2) AS dec")
		if err != nil {
			return err
		}
		res, err := fetch(ctx, info)
		if err != nil {
			return err
		}
		want := []arrow.DataType{
			arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String,
			arrow.PrimitiveTypes.Float64, arrow.FixedWidthTypes.Boolean, arrow.PrimitiveTypes.Int32,
			arrow.FixedWidthTypes.Date32, &arrow.TimestampType{Unit: arrow.Microsecond},
			&arrow.Decimal128Type{Precision: 10, Scale: 2},
		}
		if err := expectTypes(res.schema, []string{"i", "big", "s", "d", "b", "n", "dt", "ts", "dec"}, want); err != nil {
			return err
		}
		declared, err := flight.DeserializeSchema(info.Schema, mem)
		if err != nil {
			return fmt.Errorf("FlightInfo schema: %w", err)
		}
		if !declared.Equal(res.schema) {
			return fmt.Errorf("FlightInfo schema %s differs from the streamed schema %s", declared, res.schema)
		}
		return expectRows(res, [][]string{{"42", "9000000000", "héllo", "2.5", "true", "(null)",
			"2024-02-29", "2024-01-02T03:04:05.123456", "12.34"}})
	})

	check("query: nested, enum, uuid, interval, time, blob types", func(ctx context.Context) error {
		info, err := cl.Execute(ctx, "SELECT [1, 2, NULL]::INTEGER[] AS l, {'x': 1, 'y': 'q'} AS s,"+
			" 'b'::ENUM('a', 'b') AS e, '12345678-1234-5678-1234-567812345678'::UUID AS u,"+
			" INTERVAL 3 DAY AS iv, TIME '12:34:56' AS t, '\\xAB\\x01'::BLOB AS bl,"+
			" 18446744073709551615::UBIGINT AS ub, (-2)::TINYINT AS ti")
		if err != nil {
			return err
		}
		res, err := fetch(ctx, info)
		if err != nil {
			return err
		}
		want := []arrow.DataType{
			arrow.ListOf(arrow.PrimitiveTypes.Int32),
			arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
				arrow.Field{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true}),
			&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint8, ValueType: arrow.BinaryTypes.String},
			arrow.BinaryTypes.String,
			arrow.FixedWidthTypes.MonthDayNanoInterval,
			arrow.FixedWidthTypes.Time64us,
			arrow.BinaryTypes.Binary,
			arrow.PrimitiveTypes.Uint64,
			arrow.PrimitiveTypes.Int8,
		}
		if err := expectTypesLoose(res.schema, []string{"l", "s", "e", "u", "iv", "t", "bl", "ub", "ti"}, want); err != nil {
			return err
		}
		got := res.rows()
		if len(got) != 1 {
			return fmt.Errorf("%d rows", len(got))
		}
		dict := res.batches[0].Column(2).(*array.Dictionary)
		enumValue := dict.Dictionary().ValueStr(dict.GetValueIndex(0))
		row := got[0]
		row[2] = enumValue
		wantRow := []string{"[1,2,null]", `{"x":1,"y":"q"}`, "b", "12345678-1234-5678-1234-567812345678",
			`{"months":0,"days":3,"nanoseconds":0}`, "12:34:56.000000", "qwE=", "18446744073709551615", "-2"}
		if !reflect.DeepEqual(row, wantRow) {
			return fmt.Errorf("row %q, want %q", row, wantRow)
		}
		return nil
	})

	check("query: many rows in several batches", func(ctx context.Context) error {
		info, err := cl.Execute(ctx, "SELECT range AS x FROM range(300000) ORDER BY x")
		if err != nil {
			return err
		}
		res, err := fetch(ctx, info)
		if err != nil {
			return err
		}
		var n, sum int64
		for _, b := range res.batches {
			col := b.Column(0).(*array.Int64)
			for i := 0; i < col.Len(); i++ {
				if col.Value(i) != n {
					return fmt.Errorf("row %d is %d", n, col.Value(i))
				}
				sum += col.Value(i)
				n++
			}
		}
		if n != 300000 || sum != 299999*300000/2 {
			return fmt.Errorf("got %d rows summing to %d", n, sum)
		}
		if len(res.batches) < 2 {
			return fmt.Errorf("300000 rows arrived in %d batch(es)", len(res.batches))
		}
		fmt.Printf("  300000 rows in %d batches\n", len(res.batches))
		return nil
	})

	check("query: GetExecuteSchema matches the result", func(ctx context.Context) error {
		sr, err := cl.GetExecuteSchema(ctx, "SELECT 1::INTEGER AS a, 'x' AS b")
		if err != nil {
			return err
		}
		schema, err := flight.DeserializeSchema(sr.GetSchema(), mem)
		if err != nil {
			return err
		}
		return expectTypes(schema, []string{"a", "b"},
			[]arrow.DataType{arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String})
	})

	check("query: empty result keeps its schema", func(ctx context.Context) error {
		info, err := cl.Execute(ctx, "SELECT 1::INTEGER AS a, 'x' AS b WHERE false")
		if err != nil {
			return err
		}
		res, err := fetch(ctx, info)
		if err != nil {
			return err
		}
		if err := expectTypes(res.schema, []string{"a", "b"},
			[]arrow.DataType{arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String}); err != nil {
			return err
		}
		return expectRows(res, nil)
	})

	check("query: SQL error is INVALID_ARGUMENT", func(ctx context.Context) error {
		_, err := cl.Execute(ctx, "SELEC nonsense")
		if err == nil {
			return errors.New("no error for invalid SQL")
		}
		if !strings.Contains(err.Error(), "InvalidArgument") || !strings.Contains(strings.ToLower(err.Error()), "syntax") {
			return fmt.Errorf("unexpected error: %v", err)
		}
		return nil
	})
}

// ---------------------------------------------------------------------------------------
// Prepared statements

func preparedChecks() {
	t := "go_prep_" + suffix
	check("prepared: setup table", func(ctx context.Context) error {
		return execAll(ctx, "CREATE TABLE "+t+" (id INTEGER, name VARCHAR, score DOUBLE)",
			"INSERT INTO "+t+" VALUES (1, 'a', 1.5), (2, 'b', 2.5), (3, 'c', 3.5), (4, 'd', 4.5)")
	})

	check("prepared: query with int, string and double parameters", func(ctx context.Context) error {
		prep, err := cl.Prepare(ctx, "SELECT id, name, score FROM "+t+
			" WHERE id >= ? AND name <> ? AND score < ? ORDER BY id")
		if err != nil {
			return err
		}
		defer prep.Close(ctx)
		ps := prep.ParameterSchema()
		if err := expectTypes(ps, nil, []arrow.DataType{arrow.PrimitiveTypes.Int32,
			arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64}); err != nil {
			return fmt.Errorf("parameter schema: %w", err)
		}
		if err := expectTypes(prep.DatasetSchema(), []string{"id", "name", "score"},
			[]arrow.DataType{arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String,
				arrow.PrimitiveTypes.Float64}); err != nil {
			return fmt.Errorf("dataset schema: %w", err)
		}
		if upd, ok := prep.IsUpdate(); ok && upd {
			return errors.New("a SELECT is reported as is_update")
		}
		for _, tc := range []struct {
			id    int32
			name  string
			score float64
			want  [][]string
		}{
			{2, "c", 10.0, [][]string{{"2", "b", "2.5"}, {"4", "d", "4.5"}}},
			{1, "zzz", 3.0, [][]string{{"1", "a", "1.5"}, {"2", "b", "2.5"}}},
		} {
			params := buildParams(ps, [][]any{{tc.id, tc.name, tc.score}})
			prep.SetParameters(params)
			params.Release()
			info, err := prep.Execute(ctx)
			if err != nil {
				return err
			}
			res, err := fetch(ctx, info)
			if err != nil {
				return err
			}
			if err := expectRows(res, tc.want); err != nil {
				return fmt.Errorf("parameters (%d, %q, %g): %w", tc.id, tc.name, tc.score, err)
			}
		}
		return nil
	})

	check("prepared: several parameter rows concatenate results", func(ctx context.Context) error {
		prep, err := cl.Prepare(ctx, "SELECT name FROM "+t+" WHERE id = ?")
		if err != nil {
			return err
		}
		defer prep.Close(ctx)
		params := buildParams(prep.ParameterSchema(), [][]any{{int32(3)}, {int32(1)}, {int32(4)}})
		prep.SetParameters(params)
		params.Release()
		info, err := prep.Execute(ctx)
		if err != nil {
			return err
		}
		res, err := fetch(ctx, info)
		if err != nil {
			return err
		}
		return expectRows(res, [][]string{{"c"}, {"a"}, {"d"}})
	})

	check("prepared: statement without parameters, executed twice", func(ctx context.Context) error {
		prep, err := cl.Prepare(ctx, "SELECT count(*) AS n FROM "+t)
		if err != nil {
			return err
		}
		defer prep.Close(ctx)
		for i := 0; i < 2; i++ {
			info, err := prep.Execute(ctx)
			if err != nil {
				return err
			}
			res, err := fetch(ctx, info)
			if err != nil {
				return err
			}
			if err := expectRows(res, [][]string{{"4"}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---------------------------------------------------------------------------------------
// Updates

func updateChecks() {
	t := "go_upd_" + suffix
	check("update: ExecuteUpdate counts", func(ctx context.Context) error {
		// DDL changes no rows: the spec allows 0 or -1 ("unknown") as its record count.
		n, err := cl.ExecuteUpdate(ctx, "CREATE TABLE "+t+" (id INTEGER, name VARCHAR, score DOUBLE)")
		if err != nil {
			return err
		}
		if n != 0 && n != -1 {
			return fmt.Errorf("CREATE TABLE: update count %d, want 0 or -1", n)
		}
		fmt.Println("  update count of CREATE TABLE:", n)
		steps := []struct {
			sql  string
			want int64
		}{
			{"INSERT INTO " + t + " VALUES (1, 'a', 1.0), (2, 'b', 2.0), (3, 'c', 3.0)", 3},
			{"INSERT INTO " + t + " SELECT range + 100, 'r', 0.0 FROM range(1000)", 1000},
			{"UPDATE " + t + " SET score = score * 10 WHERE id <= 2", 2},
			{"DELETE FROM " + t + " WHERE id >= 100", 1000},
			{"DELETE FROM " + t + " WHERE id < 0", 0},
		}
		for _, s := range steps {
			n, err := cl.ExecuteUpdate(ctx, s.sql)
			if err != nil {
				return fmt.Errorf("%s: %w", s.sql, err)
			}
			if n != s.want {
				return fmt.Errorf("%s: update count %d, want %d", s.sql, n, s.want)
			}
		}
		return expectQuery(ctx, "SELECT id, score FROM "+t+" ORDER BY id",
			[][]string{{"1", "10"}, {"2", "20"}, {"3", "3"}})
	})

	check("update: prepared INSERT with int, string, double parameters (3 rows)", func(ctx context.Context) error {
		prep, err := cl.Prepare(ctx, "INSERT INTO "+t+" VALUES (?, ?, ?)")
		if err != nil {
			return err
		}
		defer prep.Close(ctx)
		if upd, ok := prep.IsUpdate(); ok && !upd {
			return errors.New("an INSERT is reported as is_update=false")
		}
		params := buildParams(prep.ParameterSchema(), [][]any{
			{int32(20), "p0", 0.25}, {int32(21), "p1", 1.25}, {int32(22), "p2", 2.25}})
		prep.SetParameters(params)
		params.Release()
		n, err := prep.ExecuteUpdate(ctx)
		if err != nil {
			return err
		}
		if n != 3 {
			return fmt.Errorf("update count %d, want 3", n)
		}
		return expectQuery(ctx, "SELECT id, name, score FROM "+t+" WHERE id >= 20 ORDER BY id",
			[][]string{{"20", "p0", "0.25"}, {"21", "p1", "1.25"}, {"22", "p2", "2.25"}})
	})

	check("update: prepared UPDATE with parameters", func(ctx context.Context) error {
		prep, err := cl.Prepare(ctx, "UPDATE "+t+" SET name = ?, score = ? WHERE id >= ?")
		if err != nil {
			return err
		}
		defer prep.Close(ctx)
		params := buildParams(prep.ParameterSchema(), [][]any{{"u", 100.5, int32(21)}})
		prep.SetParameters(params)
		params.Release()
		n, err := prep.ExecuteUpdate(ctx)
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("update count %d, want 2", n)
		}
		return expectQuery(ctx, "SELECT id, name, score FROM "+t+" WHERE id >= 20 ORDER BY id",
			[][]string{{"20", "p0", "0.25"}, {"21", "u", "100.5"}, {"22", "u", "100.5"}})
	})
}

// ---------------------------------------------------------------------------------------
// Scripts of several statements

func scriptChecks() {
	t := "go_script_" + suffix
	check("script: ExecuteUpdate runs every statement once", func(ctx context.Context) error {
		n, err := cl.ExecuteUpdate(ctx, "CREATE TABLE "+t+" (id INTEGER); INSERT INTO "+t+
			" VALUES (1), (2); INSERT INTO "+t+" SELECT id + 10 FROM "+t)
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("update count %d, want 2 (the last statement's)", n)
		}
		return expectQuery(ctx, "SELECT id FROM "+t+" ORDER BY id",
			[][]string{{"1"}, {"2"}, {"11"}, {"12"}})
	})
	check("script: a query script returns the last statement's rows", func(ctx context.Context) error {
		return expectQuery(ctx, "INSERT INTO "+t+" VALUES (100); SELECT count(*) AS n FROM "+t,
			[][]string{{"5"}})
	})
}

// ---------------------------------------------------------------------------------------
// Transactions

func transactionChecks() {
	t := "go_tx_" + suffix
	check("transaction: setup table", func(ctx context.Context) error {
		_, err := cl.ExecuteUpdate(ctx, "CREATE TABLE "+t+" (id INTEGER, name VARCHAR)")
		return err
	})

	check("transaction: rollback discards the insert", func(ctx context.Context) error {
		tx, err := cl.BeginTransaction(ctx)
		if err != nil {
			return err
		}
		n, err := tx.ExecuteUpdate(ctx, "INSERT INTO "+t+" VALUES (1, 'rolled back'), (2, 'rolled back')")
		if err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if n != 2 {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("update count %d, want 2", n)
		}
		// Visible inside the transaction ...
		info, err := tx.Execute(ctx, "SELECT count(*) FROM "+t)
		if err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		res, err := fetch(ctx, info)
		if err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := expectRows(res, [][]string{{"2"}}); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("inside the transaction: %w", err)
		}
		// ... not outside it.
		if err := expectQuery(ctx, "SELECT count(*) FROM "+t, [][]string{{"0"}}); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("outside the open transaction: %w", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			return err
		}
		return expectQuery(ctx, "SELECT count(*) FROM "+t, [][]string{{"0"}})
	})

	check("transaction: commit makes the insert visible", func(ctx context.Context) error {
		tx, err := cl.BeginTransaction(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecuteUpdate(ctx, "INSERT INTO "+t+" VALUES (3, 'committed')"); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		// A prepared statement with a parameter inside the same transaction.
		prep, err := tx.Prepare(ctx, "INSERT INTO "+t+" VALUES (?, ?)")
		if err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		params := buildParams(prep.ParameterSchema(), [][]any{{int32(4), "prepared in tx"}})
		prep.SetParameters(params)
		params.Release()
		if n, err := prep.ExecuteUpdate(ctx); err != nil || n != 1 {
			_ = prep.Close(ctx)
			_ = tx.Rollback(ctx)
			return fmt.Errorf("prepared insert in transaction: n=%d err=%v", n, err)
		}
		_ = prep.Close(ctx)
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		return expectQuery(ctx, "SELECT id, name FROM "+t+" ORDER BY id",
			[][]string{{"3", "committed"}, {"4", "prepared in tx"}})
	})

	check("transaction: a write that lost to an open transaction's is Unavailable, saying to run it again",
		func(ctx context.Context) error {
			tx, err := cl.BeginTransaction(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.ExecuteUpdate(ctx, "UPDATE "+t+" SET name = 'held' WHERE id = 3"); err != nil {
				_ = tx.Rollback(ctx)
				return err
			}
			_, lost := cl.ExecuteUpdate(ctx, "UPDATE "+t+" SET name = 'lost' WHERE id = 3")
			if err := tx.Commit(ctx); err != nil {
				return err
			}
			if lost == nil {
				return errors.New("an UPDATE of a row an open transaction had updated went through")
			}
			message := status.Convert(lost).Message()
			if status.Code(lost) != codes.Unavailable || !strings.Contains(message, "write conflict") ||
				!strings.Contains(message, "run it again") {
				return fmt.Errorf("want Unavailable saying to run it again, got %v: %v", status.Code(lost), lost)
			}
			if _, err := cl.ExecuteUpdate(ctx, "UPDATE "+t+" SET name = 'again' WHERE id = 3"); err != nil {
				return fmt.Errorf("running it again: %w", err)
			}
			return expectQuery(ctx, "SELECT name FROM "+t+" WHERE id = 3", [][]string{{"again"}})
		})

	check("transaction: using a finished transaction fails", func(ctx context.Context) error {
		tx, err := cl.BeginTransaction(ctx)
		if err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err == nil {
			return errors.New("committing the same transaction twice succeeded")
		}
		return nil
	})
}

// ---------------------------------------------------------------------------------------
// A read_only caller

func readOnlyMain(addr, table, rows string, login []string) {
	check("read-only: connect", func(ctx context.Context) error {
		var err error
		cl, err = flightsql.NewClient(addr, nil, nil,
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		if len(login) == 2 {
			authed, err := cl.Client.AuthenticateBasicToken(context.Background(), login[0], login[1])
			if err != nil {
				return fmt.Errorf("login as %s: %w", login[0], err)
			}
			baseCtx = authed
		}
		return nil
	})
	if cl == nil {
		finish()
	}
	defer cl.Close()
	count := "SELECT count(*) FROM " + table
	unchanged := [][]string{{rows}}
	write := "INSERT INTO " + table + " SELECT * FROM " + table

	check("read-only: query", func(ctx context.Context) error {
		return expectQuery(ctx, count, unchanged)
	})

	check("read-only: Flight SQL transaction: query, then commit", func(ctx context.Context) error {
		tx, err := cl.BeginTransaction(ctx)
		if err != nil {
			return fmt.Errorf("BeginTransaction: %w", err)
		}
		if err := expectUnchangedIn(ctx, tx, count, unchanged); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})

	check("read-only: a write inside a Flight SQL transaction is refused, then rollback",
		func(ctx context.Context) error {
			tx, err := cl.BeginTransaction(ctx)
			if err != nil {
				return fmt.Errorf("BeginTransaction: %w", err)
			}
			_, err = tx.ExecuteUpdate(ctx, write)
			if err := expectDenied(err, "INSERT"); err != nil {
				_ = tx.Rollback(ctx)
				return err
			}
			// The refusal leaves the transaction usable.
			if err := expectUnchangedIn(ctx, tx, count, unchanged); err != nil {
				return err
			}
			return tx.Rollback(ctx)
		})

	check("read-only: SQL BEGIN, a refused DELETE, ROLLBACK (statement updates)",
		func(ctx context.Context) error {
			if _, err := cl.ExecuteUpdate(ctx, "BEGIN TRANSACTION"); err != nil {
				return fmt.Errorf("BEGIN TRANSACTION: %w", err)
			}
			_, err := cl.ExecuteUpdate(ctx, "DELETE FROM "+table)
			if err := expectDenied(err, "DELETE"); err != nil {
				_, _ = cl.ExecuteUpdate(ctx, "ROLLBACK")
				return err
			}
			if err := expectQuery(ctx, count, unchanged); err != nil {
				_, _ = cl.ExecuteUpdate(ctx, "ROLLBACK")
				return err
			}
			if _, err := cl.ExecuteUpdate(ctx, "ROLLBACK"); err != nil {
				return fmt.Errorf("ROLLBACK: %w", err)
			}
			return nil
		})

	check("read-only: prepared BEGIN and COMMIT (prepared updates)", func(ctx context.Context) error {
		for _, sql := range []string{"BEGIN", "COMMIT"} {
			prep, err := cl.Prepare(ctx, sql)
			if err != nil {
				return fmt.Errorf("prepare %s: %w", sql, err)
			}
			_, err = prep.ExecuteUpdate(ctx)
			_ = prep.Close(ctx)
			if err != nil {
				return fmt.Errorf("execute prepared %s: %w", sql, err)
			}
		}
		return nil
	})

	check("read-only: the table is unchanged", func(ctx context.Context) error {
		return expectQuery(ctx, count, unchanged)
	})
	finish()
}

// ---------------------------------------------------------------------------------------
// A burst of new sessions

func burstMain(addr, count, user, password string) {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "--burst needs a positive number of clients")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	clients := make([]*flightsql.Client, n)
	for i := range clients {
		c, err := flightsql.NewClient(addr, nil, nil,
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			os.Exit(1)
		}
		defer c.Close()
		clients[i] = c
	}
	var ready, loggedIn sync.WaitGroup
	ready.Add(n)
	loggedIn.Add(n)
	start := make(chan struct{})
	outcomes := make([]error, n)
	authed := make([]context.Context, n)
	var done sync.WaitGroup
	done.Add(n)
	for i := range clients {
		go func(i int) {
			defer done.Done()
			// The channel is up first (connecting is not part of the burst).
			clients[i].Client.GetFlightInfo(ctx, &flight.FlightDescriptor{}) //nolint:errcheck
			ready.Done()
			<-start
			authed[i] = ctx
			if user != "" {
				authed[i], outcomes[i] = clients[i].Client.AuthenticateBasicToken(ctx, user, password)
			}
			loggedIn.Done()
			loggedIn.Wait() // everyone has logged in: all first statements at once
			if outcomes[i] == nil {
				_, outcomes[i] = clients[i].Execute(authed[i], "SELECT 1")
			}
		}(i)
	}
	ready.Wait()
	close(start)
	done.Wait()
	summary := map[string]any{"admitted": []int{}, "refused": []int{}, "other": []int{}}
	messages := map[string]int{}
	for i, err := range outcomes {
		switch {
		case err == nil:
			summary["admitted"] = append(summary["admitted"].([]int), i)
		case status.Code(err) == codes.Unavailable:
			summary["refused"] = append(summary["refused"].([]int), i)
			messages[status.Convert(err).Message()]++
		default:
			summary["other"] = append(summary["other"].([]int), i)
			messages[err.Error()]++
		}
	}
	summary["messages"] = messages
	line, _ := json.Marshal(summary)
	fmt.Println(string(line))
	bufio.NewReader(os.Stdin).ReadString('\n') //nolint:errcheck
	for i, err := range outcomes {
		if err == nil {
			if _, err := clients[i].CloseSession(authed[i], &flight.CloseSessionRequest{}); err != nil {
				fmt.Fprintln(os.Stderr, "CloseSession:", err)
				os.Exit(1)
			}
		}
	}
}

// expectUnchangedIn: `count` run inside tx gives `unchanged`; on any failure tx is rolled back.
func expectUnchangedIn(ctx context.Context, tx *flightsql.Txn, count string, unchanged [][]string) error {
	res, err := fetchInfo(tx.Execute(ctx, count))
	if err == nil {
		err = expectRows(res, unchanged)
	}
	if err != nil {
		_ = tx.Rollback(ctx)
	}
	return err
}

// expectDenied: err is the server's PERMISSION_DENIED for a read_only caller running `what`.
func expectDenied(err error, what string) error {
	if err == nil {
		return fmt.Errorf("%s by a read_only caller succeeded", what)
	}
	if status.Code(err) != codes.PermissionDenied {
		return fmt.Errorf("%s: want PermissionDenied, got %v: %w", what, status.Code(err), err)
	}
	// The statement-update route refuses any SQL below read_write ("statement updates").
	if !strings.Contains(err.Error(), "permission denied") ||
		!strings.Contains(err.Error(), "read_only") {
		return fmt.Errorf("%s: not the server's denial naming the role: %w", what, err)
	}
	return nil
}

// ---------------------------------------------------------------------------------------
// Bulk ingest

func ingestChecks() {
	t := "go_ingest_" + suffix
	check("ingest: ExecuteIngest creates and appends", func(ctx context.Context) error {
		schema := arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "host", Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil)
		batch := buildParams(schema, [][]any{{int64(1), "a"}, {int64(2), "b"}, {int64(3), nil}})
		defer batch.Release()
		for i, opt := range []flightsql.TableDefinitionOptionsTableExistsOption{
			flightsql.TableDefinitionOptionsTableExistsOptionFail,
			flightsql.TableDefinitionOptionsTableExistsOptionAppend,
		} {
			rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{batch})
			if err != nil {
				return err
			}
			n, err := cl.ExecuteIngest(ctx, rdr, &flightsql.ExecuteIngestOpts{
				Table: t,
				TableDefinitionOptions: &flightsql.TableDefinitionOptions{
					IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionCreate,
					IfExists:   opt,
				},
			})
			rdr.Release()
			if err != nil {
				return fmt.Errorf("ingest #%d: %w", i+1, err)
			}
			if n != 3 {
				return fmt.Errorf("ingest #%d: record count %d, want 3", i+1, n)
			}
		}
		return expectQuery(ctx, "SELECT count(*), count(host), sum(id)::BIGINT FROM "+t,
			[][]string{{"6", "4", "12"}})
	})
}

// ---------------------------------------------------------------------------------------
// Metadata commands

func metadataChecks() {
	parent := "go_meta_parent_" + suffix
	child := "go_meta_child_" + suffix
	view := "go_meta_view_" + suffix
	schemaName := "go_schema_" + suffix
	check("metadata: setup tables", func(ctx context.Context) error {
		return execAll(ctx,
			"CREATE TABLE "+parent+" (a INTEGER NOT NULL, b VARCHAR NOT NULL, label VARCHAR,"+
				" price DECIMAL(10,2), PRIMARY KEY (a, b))",
			"CREATE TABLE "+child+" (id BIGINT PRIMARY KEY, pa INTEGER, pb VARCHAR,"+
				" FOREIGN KEY (pa, pb) REFERENCES "+parent+" (a, b))",
			"CREATE VIEW "+view+" AS SELECT a, label FROM "+parent,
			"CREATE SCHEMA "+schemaName,
			"CREATE TABLE "+schemaName+".other (x INTEGER)")
	})

	check("metadata: GetCatalogs", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetCatalogs(ctx))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.Catalogs); err != nil {
			return err
		}
		cats := column(res, "catalog_name")
		fmt.Println("  catalogs:", cats)
		if !slices.Contains(cats, "memory") {
			return fmt.Errorf("catalog 'memory' not listed: %v", cats)
		}
		return nil
	})

	check("metadata: GetDBSchemas", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{}))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.DBSchemas); err != nil {
			return err
		}
		var pairs []string
		for _, r := range res.rows() {
			pairs = append(pairs, r[0]+"."+r[1])
		}
		fmt.Println("  schemas:", pairs)
		for _, want := range []string{"memory.main", "memory." + schemaName} {
			if !slices.Contains(pairs, want) {
				return fmt.Errorf("%s not listed: %v", want, pairs)
			}
		}
		cat, pattern := "memory", "go_schema_"+suffix
		res, err = fetchInfo(cl.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{
			Catalog: &cat, DbSchemaFilterPattern: &pattern}))
		if err != nil {
			return err
		}
		return expectRows(res, [][]string{{"memory", schemaName}})
	})

	check("metadata: GetTableTypes", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetTableTypes(ctx))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.TableTypes); err != nil {
			return err
		}
		types := column(res, "table_type")
		fmt.Println("  table types:", types)
		if len(types) < 2 {
			return fmt.Errorf("expected at least a table and a view type: %v", types)
		}
		return nil
	})

	check("metadata: GetTables", func(ctx context.Context) error {
		pattern := "go_meta_%" + suffix
		res, err := fetchInfo(cl.GetTables(ctx, &flightsql.GetTablesOpts{TableNameFilterPattern: &pattern}))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.Tables); err != nil {
			return err
		}
		byName := map[string][]string{}
		for _, r := range res.rows() {
			byName[r[2]] = r
		}
		names := keys(byName)
		if !reflect.DeepEqual(names, sorted(parent, child, view)) {
			return fmt.Errorf("tables matching %s: %v", pattern, names)
		}
		p := byName[parent]
		if p[0] != "memory" || p[1] != "main" {
			return fmt.Errorf("catalog/schema of the table: %v", p)
		}
		typesRes, err := fetchInfo(cl.GetTableTypes(ctx))
		if err != nil {
			return err
		}
		types := column(typesRes, "table_type")
		tableType, viewType := p[3], byName[view][3]
		if !slices.Contains(types, tableType) || !slices.Contains(types, viewType) || tableType == viewType {
			return fmt.Errorf("table type %q / view type %q vs GetTableTypes %v", tableType, viewType, types)
		}
		res, err = fetchInfo(cl.GetTables(ctx, &flightsql.GetTablesOpts{
			TableNameFilterPattern: &pattern, TableTypes: []string{viewType}}))
		if err != nil {
			return err
		}
		if got := column(res, "table_name"); !reflect.DeepEqual(got, []string{view}) {
			return fmt.Errorf("tables of type %q: %v", viewType, got)
		}
		cat, sch, other := "memory", schemaName, "other"
		res, err = fetchInfo(cl.GetTables(ctx, &flightsql.GetTablesOpts{
			Catalog: &cat, DbSchemaFilterPattern: &sch, TableNameFilterPattern: &other}))
		if err != nil {
			return err
		}
		return expectRows(res, [][]string{{"memory", schemaName, "other", tableType}})
	})

	check("metadata: GetTables with include_schema", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetTables(ctx, &flightsql.GetTablesOpts{
			TableNameFilterPattern: &parent, IncludeSchema: true}))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.TablesWithIncludedSchema); err != nil {
			return err
		}
		if res.numRows() != 1 {
			return fmt.Errorf("%d rows for table %s", res.numRows(), parent)
		}
		raw := res.batches[0].Column(4).(*array.Binary).Value(0)
		ts, err := flight.DeserializeSchema(raw, mem)
		if err != nil {
			return fmt.Errorf("table_schema does not deserialize: %w", err)
		}
		var desc []string
		for _, f := range ts.Fields() {
			typeName, _ := f.Metadata.GetValue("ARROW:FLIGHT:SQL:TYPE_NAME")
			desc = append(desc, fmt.Sprintf("%s %s nullable=%v type_name=%q", f.Name, f.Type, f.Nullable, typeName))
		}
		fmt.Println("  table_schema:", strings.Join(desc, "; "))
		if err := expectTypes(ts, []string{"a", "b", "label", "price"}, []arrow.DataType{
			arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String, arrow.BinaryTypes.String,
			&arrow.Decimal128Type{Precision: 10, Scale: 2}}); err != nil {
			return err
		}
		var nullable []bool
		for _, f := range ts.Fields() {
			nullable = append(nullable, f.Nullable)
		}
		if !reflect.DeepEqual(nullable, []bool{false, false, true, true}) {
			return fmt.Errorf("nullability of (a NOT NULL, b NOT NULL, label, price): %v", nullable)
		}
		return nil
	})

	check("metadata: GetPrimaryKeys", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetPrimaryKeys(ctx, flightsql.TableRef{Table: parent}))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.PrimaryKeys); err != nil {
			return err
		}
		var got [][]string
		for _, r := range res.rows() {
			got = append(got, []string{r[0], r[1], r[2], r[3], r[4]})
		}
		want := [][]string{{"memory", "main", parent, "a", "1"}, {"memory", "main", parent, "b", "2"}}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("primary keys %v, want %v", got, want)
		}
		res, err = fetchInfo(cl.GetPrimaryKeys(ctx, flightsql.TableRef{Table: view}))
		if err != nil {
			return err
		}
		return expectRows(res, nil)
	})

	fkCheck := func(name string, get func(ctx context.Context) (*flight.FlightInfo, error)) {
		check("metadata: "+name, func(ctx context.Context) error {
			info, err := get(ctx)
			res, err := fetchInfo(info, err)
			if err != nil {
				return err
			}
			if err := expectSchema(res.schema, schema_ref.ImportedExportedKeysAndCrossReference); err != nil {
				return err
			}
			var got [][]string
			for _, r := range res.rows() {
				got = append(got, []string{r[2], r[3], r[6], r[7], r[8]})
			}
			want := [][]string{{parent, "a", child, "pa", "1"}, {parent, "b", child, "pb", "2"}}
			if !reflect.DeepEqual(got, want) {
				return fmt.Errorf("(pk_table, pk_column, fk_table, fk_column, key_sequence) = %v, want %v", got, want)
			}
			return nil
		})
	}
	fkCheck("GetImportedKeys", func(ctx context.Context) (*flight.FlightInfo, error) {
		return cl.GetImportedKeys(ctx, flightsql.TableRef{Table: child})
	})
	fkCheck("GetExportedKeys", func(ctx context.Context) (*flight.FlightInfo, error) {
		return cl.GetExportedKeys(ctx, flightsql.TableRef{Table: parent})
	})
	fkCheck("GetCrossReference", func(ctx context.Context) (*flight.FlightInfo, error) {
		return cl.GetCrossReference(ctx, flightsql.TableRef{Table: parent}, flightsql.TableRef{Table: child})
	})
}

// ---------------------------------------------------------------------------------------
// SqlInfo

func sqlInfoChecks() {
	check("sqlinfo: GetSqlInfo (all) schema and core values", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetSqlInfo(ctx, nil))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.SqlInfo); err != nil {
			return err
		}
		values := sqlInfoValues(res)
		fmt.Printf("  %d SqlInfo entries\n", len(values))
		want := map[flightsql.SqlInfo]string{
			flightsql.SqlInfoFlightSqlServerName:     "hyprstream",
			flightsql.SqlInfoFlightSqlServerReadOnly: "false",
			flightsql.SqlInfoFlightSqlServerSql:      "true",
			flightsql.SqlInfoTransactionsSupported:   "true",
			flightsql.SqlInfoIdentifierQuoteChar:     `"`,
		}
		for id, v := range want {
			if values[id] != v {
				return fmt.Errorf("SqlInfo %s = %q, want %q", id, values[id], v)
			}
		}
		for _, id := range []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerVersion,
			flightsql.SqlInfoFlightSqlServerArrowVersion} {
			if values[id] == "" {
				return fmt.Errorf("SqlInfo %s missing", id)
			}
		}
		return nil
	})

	check("sqlinfo: GetSqlInfo with ids returns exactly those", func(ctx context.Context) error {
		ids := []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName,
			flightsql.SqlInfoFlightSqlServerTransaction, flightsql.SqlInfoTransactionsSupported}
		res, err := fetchInfo(cl.GetSqlInfo(ctx, ids))
		if err != nil {
			return err
		}
		values := sqlInfoValues(res)
		if len(values) != len(ids) {
			return fmt.Errorf("asked for %d ids, got %v", len(ids), values)
		}
		// FLIGHT_SQL_SERVER_TRANSACTION is an int32 enum: 1 = SQL_SUPPORTED_TRANSACTION_TRANSACTION.
		if values[flightsql.SqlInfoFlightSqlServerTransaction] != "1" {
			return fmt.Errorf("FLIGHT_SQL_SERVER_TRANSACTION = %q, want 1",
				values[flightsql.SqlInfoFlightSqlServerTransaction])
		}
		return nil
	})

	check("sqlinfo: keyword and function lists", func(ctx context.Context) error {
		ids := []flightsql.SqlInfo{flightsql.SqlInfoKeywords, flightsql.SqlInfoNumericFunctions,
			flightsql.SqlInfoStringFunctions, flightsql.SqlInfoDateTimeFunctions}
		res, err := fetchInfo(cl.GetSqlInfo(ctx, ids))
		if err != nil {
			return err
		}
		values := sqlInfoValues(res)
		for _, id := range ids {
			if !strings.HasPrefix(values[id], "[") || len(values[id]) < 3 {
				return fmt.Errorf("SqlInfo %s = %q, want a non-empty string list", id, values[id])
			}
		}
		if !strings.Contains(strings.ToLower(values[flightsql.SqlInfoNumericFunctions]), "abs") {
			return fmt.Errorf("numeric functions lack abs: %s", values[flightsql.SqlInfoNumericFunctions])
		}
		return nil
	})
}

// ---------------------------------------------------------------------------------------
// XDBC type info

func xdbcTypeInfoChecks() {
	check("xdbc: GetXdbcTypeInfo (all types)", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetXdbcTypeInfo(ctx, nil))
		if err != nil {
			return err
		}
		if err := expectSchema(res.schema, schema_ref.XdbcTypeInfo); err != nil {
			return err
		}
		names := column(res, "type_name")
		fmt.Printf("  %d types: %v\n", len(names), names)
		var upper []string
		for _, n := range names {
			upper = append(upper, strings.ToUpper(n))
		}
		for _, want := range []string{"INTEGER", "BIGINT", "VARCHAR", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP"} {
			if !slices.Contains(upper, want) {
				return fmt.Errorf("type %s not listed", want)
			}
		}
		return nil
	})

	check("xdbc: GetXdbcTypeInfo filtered by data_type", func(ctx context.Context) error {
		integer := int32(4) // java.sql.Types.INTEGER / SQL_INTEGER
		res, err := fetchInfo(cl.GetXdbcTypeInfo(ctx, &integer))
		if err != nil {
			return err
		}
		if res.numRows() == 0 {
			return errors.New("no type with data_type 4 (INTEGER)")
		}
		for _, v := range column(res, "data_type") {
			if v != "4" {
				return fmt.Errorf("filter by data_type 4 returned data_type %s", v)
			}
		}
		return nil
	})
}

// ---------------------------------------------------------------------------------------
// Session options, PollFlightInfo, CancelFlightInfo (newer Flight RPCs)

func sessionAndCancelChecks() {
	check("session: SetSessionOptions / GetSessionOptions / CloseSession", func(ctx context.Context) error {
		val, err := flight.NewSessionOptionValue("memory")
		if err != nil {
			return err
		}
		setRes, err := cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{
			SessionOptions: map[string]*flight.SessionOptionValue{"catalog": &val}})
		if err != nil {
			return fmt.Errorf("SetSessionOptions: %w", err)
		}
		if len(setRes.GetErrors()) != 0 {
			return fmt.Errorf("SetSessionOptions errors: %v", setRes.GetErrors())
		}
		getRes, err := cl.GetSessionOptions(ctx, &flight.GetSessionOptionsRequest{})
		if err != nil {
			return fmt.Errorf("GetSessionOptions: %w", err)
		}
		fmt.Println("  session options:", getRes.GetSessionOptions())
		if c, ok := getRes.GetSessionOptions()["catalog"]; ok && c.GetStringValue() != "memory" {
			return fmt.Errorf("catalog option reads back as %v", c)
		}
		closeRes, err := cl.CloseSession(ctx, &flight.CloseSessionRequest{})
		if err != nil {
			return fmt.Errorf("CloseSession: %w", err)
		}
		if closeRes.GetStatus() != flight.CloseSessionResultClosed &&
			closeRes.GetStatus() != flight.CloseSessionResultClosing {
			return fmt.Errorf("CloseSession status %v", closeRes.GetStatus())
		}
		return nil
	})

	check("poll: ExecutePoll returns a complete FlightInfo", func(ctx context.Context) error {
		poll, err := cl.ExecutePoll(ctx, "SELECT 7::INTEGER AS seven", nil)
		if err != nil {
			return err
		}
		for i := 0; poll.GetFlightDescriptor() != nil && i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
			poll, err = cl.ExecutePoll(ctx, "SELECT 7::INTEGER AS seven", poll.GetFlightDescriptor())
			if err != nil {
				return err
			}
		}
		if poll.GetFlightDescriptor() != nil {
			return errors.New("query still running after 5 s")
		}
		if poll.GetInfo() == nil {
			return errors.New("complete PollInfo without a FlightInfo")
		}
		res, err := fetchInfo(poll.GetInfo(), nil)
		if err != nil {
			return err
		}
		return expectRows(res, [][]string{{"7"}})
	})

	check("cancel: CancelFlightInfo on an unread result", func(ctx context.Context) error {
		info, err := cl.Execute(ctx, "SELECT range FROM range(1000000)")
		if err != nil {
			return err
		}
		res, err := cl.CancelFlightInfo(ctx, &flight.CancelFlightInfoRequest{Info: info})
		if err != nil {
			return err
		}
		switch res.GetStatus() {
		case flight.CancelStatusCancelled, flight.CancelStatusCancelling, flight.CancelStatusNotCancellable:
			fmt.Println("  cancel status:", res.GetStatus())
			return nil
		}
		return fmt.Errorf("cancel status %v", res.GetStatus())
	})
}

// ---------------------------------------------------------------------------------------
// Helpers

type result struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
}

func (r *result) numRows() int {
	n := 0
	for _, b := range r.batches {
		n += int(b.NumRows())
	}
	return n
}

// rows renders every cell with ValueStr ("(null)" for nulls).
func (r *result) rows() [][]string {
	var out [][]string
	for _, b := range r.batches {
		for i := 0; i < int(b.NumRows()); i++ {
			row := make([]string, b.NumCols())
			for c := range row {
				row[c] = b.Column(c).ValueStr(i)
			}
			out = append(out, row)
		}
	}
	return out
}

func column(r *result, name string) []string {
	idx := r.schema.FieldIndices(name)
	if len(idx) == 0 {
		return nil
	}
	var out []string
	for _, row := range r.rows() {
		out = append(out, row[idx[0]])
	}
	return out
}

// fetch reads every endpoint of a FlightInfo.
func fetch(ctx context.Context, info *flight.FlightInfo) (*result, error) {
	res := &result{}
	if len(info.Endpoint) == 0 {
		return nil, errors.New("FlightInfo without endpoints")
	}
	for _, ep := range info.Endpoint {
		rdr, err := cl.DoGet(ctx, ep.Ticket)
		if err != nil {
			return nil, fmt.Errorf("DoGet: %w", err)
		}
		if res.schema == nil {
			res.schema = rdr.Schema()
		}
		for rdr.Next() {
			b := rdr.RecordBatch()
			b.Retain()
			res.batches = append(res.batches, b)
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return nil, fmt.Errorf("reading the stream: %w", err)
		}
	}
	return res, nil
}

// fetchInfo takes a FlightInfo call's two results directly: fetchInfo(cl.GetCatalogs(ctx)).
func fetchInfo(info *flight.FlightInfo, err error) (*result, error) {
	ctx := checkCtx
	if err != nil {
		return nil, fmt.Errorf("GetFlightInfo: %w", err)
	}
	res, err := fetch(ctx, info)
	if err != nil {
		return nil, err
	}
	if info.Schema != nil {
		declared, derr := flight.DeserializeSchema(info.Schema, mem)
		if derr != nil {
			return nil, fmt.Errorf("FlightInfo schema: %w", derr)
		}
		if !declared.Equal(res.schema) {
			return nil, fmt.Errorf("FlightInfo schema %s differs from the streamed schema %s", declared, res.schema)
		}
	}
	return res, nil
}

func expectQuery(ctx context.Context, sql string, want [][]string) error {
	info, err := cl.Execute(ctx, sql)
	if err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	res, err := fetch(ctx, info)
	if err != nil {
		return err
	}
	if err := expectRows(res, want); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func expectRows(res *result, want [][]string) error {
	got := res.rows()
	if len(got) == 0 && len(want) == 0 {
		return nil
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("rows %v, want %v", got, want)
	}
	return nil
}

// expectTypes checks field names (unless names is nil) and types.
func expectTypes(s *arrow.Schema, names []string, types []arrow.DataType) error {
	if s == nil {
		return errors.New("no schema")
	}
	if s.NumFields() != len(types) {
		return fmt.Errorf("schema %s has %d fields, want %d", s, s.NumFields(), len(types))
	}
	for i, f := range s.Fields() {
		if names != nil && f.Name != names[i] {
			return fmt.Errorf("field %d is named %q, want %q", i, f.Name, names[i])
		}
		if !arrow.TypeEqual(f.Type, types[i]) {
			return fmt.Errorf("field %q has type %s, want %s", f.Name, f.Type, types[i])
		}
	}
	return nil
}

// expectTypesLoose is expectTypes without the nullability of nested fields.
func expectTypesLoose(s *arrow.Schema, names []string, types []arrow.DataType) error {
	if s.NumFields() != len(types) {
		return fmt.Errorf("schema %s has %d fields, want %d", s, s.NumFields(), len(types))
	}
	for i, f := range s.Fields() {
		if f.Name != names[i] {
			return fmt.Errorf("field %d is named %q, want %q", i, f.Name, names[i])
		}
		if !typeEqualIgnoringNullability(f.Type, types[i]) {
			return fmt.Errorf("field %q has type %s, want %s", f.Name, f.Type, types[i])
		}
	}
	return nil
}

// expectSchema compares names and types with the Flight SQL reference schema; differences in
// nullability only are printed, not failed (clients read the columns by type).
func expectSchema(got, want *arrow.Schema) error {
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("schema has %d fields, the spec %d:\n  got  %s\n  want %s", got.NumFields(), want.NumFields(), got, want)
	}
	for i, f := range got.Fields() {
		w := want.Field(i)
		if f.Name != w.Name || !typeEqualIgnoringNullability(f.Type, w.Type) {
			return fmt.Errorf("field %d is %s: %s, the spec says %s: %s", i, f.Name, f.Type, w.Name, w.Type)
		}
		if f.Nullable != w.Nullable {
			fmt.Printf("  note: field %s nullable=%v, the spec says nullable=%v\n", f.Name, f.Nullable, w.Nullable)
		}
		if !arrow.TypeEqual(f.Type, w.Type) {
			fmt.Printf("  note: nested nullability of field %s differs from arrow-go's reference schema\n", f.Name)
		}
	}
	return nil
}

// typeEqualIgnoringNullability compares types and nested field names, but not the
// nullability of nested fields (the spec's text and the reference implementations differ
// there, and clients read by type).
func typeEqualIgnoringNullability(a, b arrow.DataType) bool {
	if a.ID() != b.ID() {
		return false
	}
	na, oka := a.(arrow.NestedType)
	nb, okb := b.(arrow.NestedType)
	if !oka || !okb {
		return arrow.TypeEqual(a, b)
	}
	if ua, ok := a.(arrow.UnionType); ok {
		if !slices.Equal(ua.TypeCodes(), b.(arrow.UnionType).TypeCodes()) || ua.Mode() != b.(arrow.UnionType).Mode() {
			return false
		}
	}
	fa, fb := na.Fields(), nb.Fields()
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i].Name != fb[i].Name && a.ID() != arrow.LIST && a.ID() != arrow.MAP {
			return false
		}
		if !typeEqualIgnoringNullability(fa[i].Type, fb[i].Type) {
			return false
		}
	}
	return true
}

// sqlInfoValues maps info_name to the value rendered as a string (lists as [a b c]).
func sqlInfoValues(res *result) map[flightsql.SqlInfo]string {
	out := map[flightsql.SqlInfo]string{}
	for _, b := range res.batches {
		names := b.Column(0).(*array.Uint32)
		values := b.Column(1).(*array.DenseUnion)
		for i := 0; i < int(b.NumRows()); i++ {
			child := values.Field(values.ChildID(i))
			off := int(values.ValueOffset(i))
			var s string
			switch c := child.(type) {
			case *array.String:
				s = c.Value(off)
			case *array.List:
				start, end := c.ValueOffsets(off)
				var items []string
				for j := start; j < end; j++ {
					items = append(items, c.ListValues().ValueStr(int(j)))
				}
				s = "[" + strings.Join(items, " ") + "]"
			default:
				s = child.ValueStr(off)
			}
			out[flightsql.SqlInfo(names.Value(i))] = s
		}
	}
	return out
}

// buildParams makes a record batch of the given schema from rows of Go values
// (int32, int64, float64, string, bool or nil).
func buildParams(schema *arrow.Schema, rows [][]any) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, row := range rows {
		for c, v := range row {
			fb := b.Field(c)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int32Builder:
				fb.Append(v.(int32))
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			default:
				panic(fmt.Sprintf("parameter %d: no builder for %s (parameter schema %s)", c, fb.Type(), schema))
			}
		}
	}
	return b.NewRecordBatch()
}

func execAll(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		if _, err := cl.ExecuteUpdate(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func check(name string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(baseCtx, timeout)
	defer cancel()
	checkCtx = ctx
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return fn(ctx)
	}()
	if err != nil {
		failed = append(failed, name)
		fmt.Printf("FAIL %s: %v\n", name, err)
		return
	}
	passed++
	fmt.Printf("PASS %s\n", name)
}

func finish() {
	fmt.Println()
	if len(failed) > 0 {
		fmt.Println("failed checks:")
		for _, f := range failed {
			fmt.Println("  " + f)
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, len(failed))
	if len(failed) > 0 {
		os.Exit(1)
	}
	os.Exit(0)
}

func randomSuffix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}
