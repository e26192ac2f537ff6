package main

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// node is an element of a parsed HTML page. The standard library has no
// HTML parser; encoding/xml in its lenient mode, with HTML's void elements
// and entities, reads the page this program writes and the DOM Chromium
// serializes from it (the page's script holds no "<" or "&").
type node struct {
	tag      string
	attr     map[string]string
	children []*node
	text     strings.Builder // all text below the element
	parent   *node
}

func parseHTML(t *testing.T, page string) *node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	root := &node{tag: "#document", attr: map[string]string{}}
	cur := root
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parse page: %v\n%s", err, page)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{tag: strings.ToLower(tok.Name.Local), attr: map[string]string{}, parent: cur}
			for _, a := range tok.Attr {
				n.attr[strings.ToLower(a.Name.Local)] = a.Value
			}
			cur.children = append(cur.children, n)
			cur = n
		case xml.EndElement:
			for n := cur; n != root; n = n.parent { // close up to the matching element
				if n.tag == strings.ToLower(tok.Name.Local) {
					cur = n.parent
					break
				}
			}
		case xml.CharData:
			for n := cur; n != nil; n = n.parent {
				n.text.Write(tok)
			}
		}
	}
	return root
}

// all returns every element below n (n excluded) for which match is true,
// in document order.
func (n *node) all(match func(*node) bool) []*node {
	var out []*node
	for _, c := range n.children {
		if match(c) {
			out = append(out, c)
		}
		out = append(out, c.all(match)...)
	}
	return out
}

// byID returns the element with id, or fails the test.
func (n *node) byID(t *testing.T, id string) *node {
	t.Helper()
	found := n.all(func(c *node) bool { return c.attr["id"] == id })
	if len(found) != 1 {
		t.Fatalf("page has %d elements with id %q, want 1", len(found), id)
	}
	return found[0]
}

// withClass returns every element below n with class c.
func (n *node) withClass(c string) []*node {
	return n.all(func(e *node) bool {
		for _, f := range strings.Fields(e.attr["class"]) {
			if f == c {
				return true
			}
		}
		return false
	})
}

// Text returns the element's text with white space collapsed.
func (n *node) Text() string { return strings.Join(strings.Fields(n.text.String()), " ") }

func TestParseHTML(t *testing.T) {
	doc := parseHTML(t, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head>
<body><p id="a" class="x y">one <b>two</b><br>three &amp; four</p><ul><li class="y">1<li class="y">2</ul></body></html>`)
	if got := doc.byID(t, "a").Text(); got != "one twothree & four" {
		t.Errorf("text = %q", got)
	}
	if got := len(doc.withClass("y")); got != 3 {
		t.Errorf("%d elements of class y, want 3", got)
	}
}
