package syncpkt_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/multisite-go/multisite/syncpkt"
)

// Example writes a signed packet with one table and two rows, then reads it
// back the way an importer does: header first, records provisionally, and
// commit only at io.EOF.
func Example() {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // boston's key
	registry := map[string]ed25519.PublicKey{"boston": key.Public().(ed25519.PublicKey)}

	var packet bytes.Buffer
	w, err := syncpkt.NewWriter(&packet, syncpkt.Header{
		Kind:   syncpkt.KindSync,
		Family: "acme",
		Origin: "boston",
		Target: "paris",
		Upto:   map[string]uint64{"boston": 42},
	}, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(key)})
	if err != nil {
		log.Fatal(err)
	}
	records := []syncpkt.Record{
		&syncpkt.Table{Name: "defect", Columns: []syncpkt.Column{
			{Name: "id", Type: "INTEGER", NotNull: true, Key: 1},
			{Name: "title", Type: "TEXT"},
		}},
		&syncpkt.Row{Version: 3, Master: "boston", Origin: "boston", Epoch: 42,
			Values: []syncpkt.Value{syncpkt.Int(1), syncpkt.Text("crash on save")}},
		&syncpkt.Row{Version: 5, Master: "boston", Origin: "boston", Epoch: 42, Deleted: true,
			Values: []syncpkt.Value{syncpkt.Int(2), syncpkt.Null()}},
	}
	for _, rec := range records {
		if err := w.Write(rec); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r := syncpkt.NewReader(&packet, syncpkt.ReaderOptions{
		PublicKey: func(h *syncpkt.Header) (ed25519.PublicKey, error) {
			if k, ok := registry[h.Origin]; ok {
				return k, nil
			}
			return nil, errors.New("unknown origin")
		},
	})
	h, err := r.Header()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s packet %s -> %s in family %s\n", h.Kind, h.Origin, h.Target, h.Family)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			fmt.Println("verified: commit")
			break
		}
		if err != nil {
			log.Fatal(err) // roll back
		}
		switch rec := rec.(type) {
		case *syncpkt.Table:
			fmt.Printf("table %s (%d columns)\n", rec.Name, len(rec.Columns))
		case *syncpkt.Row:
			fmt.Printf("row v%d deleted=%v %v\n", rec.Version, rec.Deleted, rec.Values)
		}
	}
	// Output:
	// sync packet boston -> paris in family acme
	// table defect (2 columns)
	// row v3 deleted=false [1 "crash on save"]
	// row v5 deleted=true [2 NULL]
	// verified: commit
}
