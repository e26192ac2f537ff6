package multisite_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// Write turns the database's refusal of a character outside the family's
// code page into a *CharsetError naming table, column and character, and
// leaves the table as it was.
func TestWrite_CharsetRefusalIsTyped(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, open func(string) *sql.DB) {
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
		if ce.Table != "note" || ce.Column != "body" || ce.Rune != 'Ж' {
			t.Errorf("CharsetError = %+v, want note.body and Ж", ce)
		}
		if got := s.query(t, `SELECT body FROM note WHERE id = 1`); got != "café à la crème" {
			t.Errorf("body = %q after the refused write", got)
		}
	})
}
