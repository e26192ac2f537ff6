// Package transport carries sync packets between replicas over HTTP: a
// [Handler] that a replica's site serves (inside an existing admin tool or
// on its own), and a [Client] that pushes packets to it and pulls the
// packets it exports.
//
// It imports the root package and the standard library only; TLS is what
// net/http does (serve the handler from an http.Server with a TLSConfig,
// give the client an http.Client whose Transport trusts the server).
//
// # Endpoints
//
// The handler answers two requests, relative to where it is mounted:
//
//	POST /packets   push: the body is one sync packet addressed to the
//	                handler's replica. It is verified (format, checksum,
//	                family, target, and the origin's signature by the key
//	                in the local registry) before anything is kept, then
//	                either stored atomically in the inbound bay (a temp
//	                file renamed to *.pkt) or imported at once. The answer
//	                is a JSON [PushResult].
//	GET  /packets   pull: the handler exports a packet for the asking
//	                replica (the one the bearer token belongs to) and sends
//	                it once it is complete, with its Content-Length.
//
// Refused requests get a status code and a plain-text reason:
// 401 without a valid token, 403 when a pushed packet's origin is not the
// replica the token belongs to, 413 beyond the size limit, 422 for a
// packet that is malformed, badly signed or meant for another family or
// replica, 409 for one that cannot be applied yet (an unknown origin, a
// gap: push it again after the missing packets), 503 with Retry-After when
// it is working on [HandlerOptions.MaxConcurrent] requests already, 405
// for other methods, and 500 (with the cause in the handler's log, not in
// the answer) when it fails itself.
// The client turns them into a [*StatusError] that matches the sentinels
// of this package with errors.Is.
//
// # Threat model
//
// A packet proves its own origin: it is signed by the origin replica's
// key, and the handler checks that signature against the local registry
// before storing or applying anything, so a push cannot bring in data the
// origin did not make, whoever sends it. What the packet cannot prove is
// who may read: an export carries the family's data. Every request
// therefore carries a bearer token, one per peer replica
// ([HandlerOptions.Tokens]); a pull exports only for the replica the
// token belongs to, and a push is accepted only from that replica. Tokens
// travel in the clear unless the server uses TLS: use TLS on any network
// you do not trust. Tokens are compared in constant time. A leaked token
// lets its holder read what that peer may read and push packets that
// still have to be correctly signed; rotate it in the configuration of
// both sides. A recorded push replayed later changes nothing (imports are
// idempotent). Request bodies are bounded ([HandlerOptions.MaxPacketSize],
// [DefaultMaxPacketSize] by default) and spooled to disk, not memory; at
// most [HandlerOptions.MaxConcurrent] requests are worked on at once and
// the database work is one request at a time, so peers cannot use more
// disk than that many packets. There is no rate limit beyond that: put
// the handler behind middleware of your own if you need one.
//
// # Usage
//
// In an existing admin tool:
//
//	h, err := transport.NewHandler(db, transport.HandlerOptions{
//		Tokens: map[string]string{"bangalore": os.Getenv("BLR_TOKEN")},
//		Bay:    "/srv/multisite/inbound", // empty: import at once
//	})
//	mux.Handle("/multisite/", http.StripPrefix("/multisite", h))
//
// and at the peer:
//
//	c := &transport.Client{URL: "https://boston.example.com/multisite", Token: token}
//	var pkt bytes.Buffer
//	multisite.ExportPacket(ctx, db, bostonID, &pkt, multisite.ExportOptions{})
//	res, err := c.Push(ctx, &pkt)
//	...
//	var in bytes.Buffer
//	_, err = c.Pull(ctx, &in)
//	multisite.ImportPacket(ctx, db, &in, multisite.ImportOptions{})
package transport
