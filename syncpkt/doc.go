// Package syncpkt is the format of multisite synchronization packets: a
// streaming [Writer] and [Reader] over io.Writer and io.Reader.
//
// A packet carries changes from one replica of a family (the origin) to
// another (the target). It opens with a [Header] that binds it to its family,
// origin, target, schema version and code page and states the epoch vectors
// it starts from and reaches; its body is a stream of records ([Table],
// [Row], [Transfer], [Replica], [Setting], [Invite], [Sealed]) cut into
// chunks of at most [ChunkSize] bytes, each but the last ended by a
// checkpoint carrying the SHA-256 digest of every byte before it and the
// origin's ed25519 signature of it; a trailer seals the packet with the
// record count, the digest of every byte before the trailer and the
// origin's signature of that digest. SPEC.md in this directory gives the
// byte layout, the versioning rules and the limits.
//
// The multisite package imports syncpkt to export and import packets; tools
// that inspect packets may import it directly. syncpkt imports nothing else
// from multisite.
//
// # What it never does
//
// syncpkt never touches SQL: it does not know which rows changed, whether a
// replica may change a row, or how to apply a row. It does not open files
// or connections: the caller passes in the io.Writer or io.Reader. It does
// not look up keys: the caller signs through [WriterOptions.Sign] and names
// the origin's key through [ReaderOptions.PublicKey]. It prints nothing and
// never panics on input: a corrupt, truncated, oversized or forged packet is
// an error wrapping one of the sentinels ([ErrFormat], [ErrMagic],
// [ErrVersion], [ErrTruncated], [ErrChecksum], [ErrSignature],
// [ErrTooLarge]).
//
// # Writing a packet
//
// The exporter opens a Writer with the header, writes one [Table] and then
// its rows, table by table, and closes the Writer to seal the packet:
//
//	pw, err := syncpkt.NewWriter(w, header, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(key)})
//	if err != nil {
//		return err
//	}
//	for _, t := range tables {
//		if err := pw.Write(&t.Table); err != nil {
//			return err
//		}
//		for _, row := range changedRows(t) {
//			if err := pw.Write(row); err != nil { // row is a *syncpkt.Row
//				return err
//			}
//		}
//	}
//	return pw.Close() // writes the trailer; w itself stays open
//
// # Reading a packet
//
// The importer checks the header before applying anything, applies records
// in one transaction, and commits only when Next returns io.EOF. Next
// returns a record only once the chunk it came in verified (with a
// PublicKey, every record returned is the origin's), but the packet is
// whole only at the trailer:
//
//	pr := syncpkt.NewReader(r, syncpkt.ReaderOptions{PublicKey: registryKey})
//	h, err := pr.Header()
//	if err != nil {
//		return err
//	}
//	// check h.Family, h.Target, h.SchemaVersion, h.CodePage, h.Base
//	tx := begin()
//	defer tx.Rollback()
//	for {
//		rec, err := pr.Next()
//		if err == io.EOF {
//			break // verified: the whole packet is authentic
//		}
//		if err != nil {
//			return err // a forged chunk, a limit: nothing applied survives the rollback
//		}
//		switch rec := rec.(type) {
//		case *syncpkt.Table:
//			// match rec against the local schema
//		case *syncpkt.Row:
//			// apply rec if newer than the local row
//		}
//	}
//	return tx.Commit()
//
// Writers and Readers are not safe for concurrent use; use one per packet.
package syncpkt
