package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// ErrSyntax is returned, wrapped, by Load and LoadFile for input that is
// not a plan document: malformed YAML or JSON, a field the Plan type does
// not have, a value of the wrong type, no document or more than one.
var ErrSyntax = errors.New("plan: not a plan document")

// maxPlanSize bounds what Load reads: a plan is a few kilobytes.
const maxPlanSize = 4 << 20

// Load reads a plan from YAML or JSON (JSON is YAML). A field the Plan
// type does not have is an error, so a misspelt key is never silently
// ignored; every such field is reported, with its line. Load checks only
// the document's form: call [Plan.Validate] for its content.
func Load(r io.Reader) (*Plan, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPlanSize+1))
	if err != nil {
		return nil, fmt.Errorf("plan: read: %w", err)
	}
	if len(b) > maxPlanSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrSyntax, maxPlanSize)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrSyntax)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Plan
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty document", ErrSyntax)
		}
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one document (a plan is one YAML document)", ErrSyntax)
	}
	return &p, nil
}

// LoadFile reads a plan from a YAML or JSON file; see [Load].
func LoadFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
