package main

// Grants mode: go-client grants HOST:PORT READER READER_PASSWORD WRITER WRITER_PASSWORD
//
// Run by tests/integration/test_grants.py against a server whose config grants the reader
// (read_only) read on sales, sales_v and leak_v (leak_v also reads secret, which nobody but
// admins may read) and the writer (read_write) read and write on inbox. Checks that the
// arrow-go client sees the grants enforced: queries, prepared statements, updates, bulk
// ingest and GetTables. Prints PASS/FAIL per check like the smoke program.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func grantsMain(args []string) {
	addr, reader, writer := args[0], args[1], args[3]
	fmt.Println("server:", addr, "(grants)")
	var err error
	cl, err = flightsql.NewClient(addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println("FAIL connect:", err)
		os.Exit(1)
	}
	defer cl.Close()

	tokens := map[string]string{}
	for _, login := range [][2]string{{reader, args[2]}, {writer, args[4]}} {
		user, password := login[0], login[1]
		check("login as "+user, func(ctx context.Context) error {
			authed, err := cl.Client.AuthenticateBasicToken(ctx, user, password)
			if err != nil {
				return err
			}
			md, _ := metadata.FromOutgoingContext(authed)
			if v := md.Get("authorization"); len(v) > 0 {
				tokens[user] = v[0]
				return nil
			}
			return errors.New("the handshake returned no bearer token")
		})
	}
	// checkAs runs a check with the user's token on every call (fetch reads checkCtx).
	checkAs := func(user, name string, fn func(ctx context.Context) error) {
		check(user+": "+name, func(ctx context.Context) error {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tokens[user])
			checkCtx = ctx
			return fn(ctx)
		})
	}

	checkAs(reader, "a granted table reads", func(ctx context.Context) error {
		return expectQuery(ctx, "SELECT count(*) FROM sales", [][]string{{"2"}})
	})
	checkAs(reader, "a table without a grant is PERMISSION_DENIED", func(ctx context.Context) error {
		_, err := cl.Execute(ctx, "SELECT * FROM secret")
		return expectGrantDenied(err, "read grant on memory.main.secret")
	})
	checkAs(reader, "a view over such a table is PERMISSION_DENIED", func(ctx context.Context) error {
		_, err := cl.Execute(ctx, "SELECT * FROM leak_v")
		return expectGrantDenied(err, "view memory.main.leak_v")
	})
	checkAs(reader, "preparing a query of such a table is PERMISSION_DENIED", func(ctx context.Context) error {
		stmt, err := cl.Prepare(ctx, "SELECT * FROM secret WHERE id = ?")
		if err == nil {
			stmt.Close(ctx)
		}
		return expectGrantDenied(err, "memory.main.secret")
	})
	checkAs(reader, "GetTables lists only readable tables", func(ctx context.Context) error {
		res, err := fetchInfo(cl.GetTables(ctx, &flightsql.GetTablesOpts{}))
		if err != nil {
			return err
		}
		got := column(res, "table_name")
		sort.Strings(got)
		if want := []string{"leak_v", "sales", "sales_v"}; !reflect.DeepEqual(got, want) {
			return fmt.Errorf("tables %v, want %v", got, want)
		}
		return nil
	})
	checkAs(writer, "an update of a granted table", func(ctx context.Context) error {
		n, err := cl.ExecuteUpdate(ctx, "INSERT INTO inbox VALUES (300, 'go')")
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("update count %d, want 1", n)
		}
		return nil
	})
	checkAs(writer, "an update of a table without a write grant is PERMISSION_DENIED", func(ctx context.Context) error {
		_, err := cl.ExecuteUpdate(ctx, "INSERT INTO sales VALUES (300, 1.0, NULL)")
		return expectGrantDenied(err, "write grant on memory.main.sales")
	})
	ingest := func(ctx context.Context, table string) (int64, error) {
		schema := arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil)
		batch := buildParams(schema, [][]any{{int64(301), "go ingest"}})
		defer batch.Release()
		rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{batch})
		if err != nil {
			return 0, err
		}
		defer rdr.Release()
		return cl.ExecuteIngest(ctx, rdr, &flightsql.ExecuteIngestOpts{
			Table: table,
			TableDefinitionOptions: &flightsql.TableDefinitionOptions{
				IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionFail,
				IfExists:   flightsql.TableDefinitionOptionsTableExistsOptionAppend,
			},
		})
	}
	checkAs(writer, "bulk ingest into a granted table", func(ctx context.Context) error {
		n, err := ingest(ctx, "inbox")
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("ingested %d rows, want 1", n)
		}
		return expectQuery(ctx, "SELECT count(*) FROM inbox WHERE id IN (300, 301)",
			[][]string{{"2"}})
	})
	checkAs(writer, "bulk ingest into a table without a write grant is PERMISSION_DENIED", func(ctx context.Context) error {
		_, err := ingest(ctx, "secret")
		return expectGrantDenied(err, "write grant on memory.main.secret")
	})
	finish()
}

// expectGrantDenied: err is a PERMISSION_DENIED status whose message contains `want`.
func expectGrantDenied(err error, want string) error {
	if err == nil {
		return errors.New("succeeded; want PERMISSION_DENIED")
	}
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.PermissionDenied {
		return fmt.Errorf("want PERMISSION_DENIED, got %v", err)
	}
	if !strings.Contains(s.Message(), want) {
		return fmt.Errorf("message %q does not name %q", s.Message(), want)
	}
	return nil
}
