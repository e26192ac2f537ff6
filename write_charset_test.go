package multisite_test

import (
	"context"
	"database/sql"
	"errors"
	"github.com/multisite-go/multisite/internal/dialect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// Write turns the database's refusal of a character outside the family's
// code page into a *CharsetError naming table, column and character, and
// leaves the table as it was.
func TestWrite_CharsetRefusalIsTyped(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		s := newDSite(t, open("boston"), "boston")
		s.mustExec(t, `CREATE TABLE note (id BIGINT PRIMARY KEY, body VARCHAR(100))`)
		_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston", CodePage: "windows-1252"})
		require.NoError(t, err)
		require.NoError(t, multisite.Write(ctx, s.db, multisite.WriteOptions{}, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO note (id, body) VALUES (1, ?)`), "café à la crème")
			return err
		}))
		err = multisite.Write(ctx, s.db, multisite.WriteOptions{}, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, s.d.Rebind(`UPDATE note SET body = ? WHERE id = 1`), "Жук")
			return err
		})
		var ce *multisite.CharsetError
		if !errors.As(err, &ce) || !errors.Is(err, multisite.ErrCharset) {
			t.Fatalf("Write of Cyrillic under windows-1252: %v, want *CharsetError", err)
		}
		if ce.Table != "note" || ce.Column != "body" || s.d.Name() != dialect.SQLite && ce.Rune != 'Ж' { // SQLite's names table and column only
			t.Errorf("CharsetError = %+v, want note.body and Ж", ce)
		}
		if got := s.query(t, `SELECT body FROM note WHERE id = 1`); got != "café à la crème" {
			t.Errorf("body = %q after the refused write", got)
		}
	})
}

// Activation refuses data that does not fit the chosen code page (every
// replica would refuse it on import), naming the first violation, and
// changes nothing.
func TestActivate_RefusesDataOutsideTheCodePage(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		s := newDSite(t, open("boston"), "boston")
		s.mustExec(t, `CREATE TABLE note (id BIGINT PRIMARY KEY, body VARCHAR(100))`)
		s.mustExec(t, `INSERT INTO note (id, body) VALUES (1, 'café'), (2, 'Жук')`)
		before := catalogOf(t, s.db)
		_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston", CodePage: "windows-1252"})
		var ce *multisite.CharsetError
		if !errors.As(err, &ce) || ce.Table != "note" || ce.Rune != 'Ж' {
			t.Fatalf("Activate over Cyrillic with windows-1252: %v, want *CharsetError naming note and Ж", err)
		}
		if diff := cmp.Diff(before, catalogOf(t, s.db)); diff != "" {
			t.Errorf("a refused activation changed the schema:\n%s", diff)
		}
		s.mustExec(t, `UPDATE note SET body = 'Zhuk' WHERE id = 2`)
		_, err = multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston", CodePage: "windows-1252"})
		require.NoError(t, err, "the data fits windows-1252 once cleaned")
	})
}
