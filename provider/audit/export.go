package audit

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Export formats.
const (
	CSV   = "csv"
	JSONL = "jsonl"
)

// ErrFormat means an export format other than CSV or JSONL.
var ErrFormat = errors.New("audit: format must be csv or jsonl")

// csvHeader is the first row of a CSV export, one column per Event field.
var csvHeader = []string{"id", "time", "type", "user_id", "flow_id", "ip", "user_agent", "outcome", "detail"}

// exportBatch is how many events each keyset page of an export reads.
const exportBatch = 1000

// Export writes every event matching f (its Limit is ignored), newest
// first, to w in format, reading the log in keyset pages so an export of
// millions of events holds one page in memory and never a long read
// transaction. ReadExport reads the output back into identical events.
func (l *Log) Export(ctx context.Context, w io.Writer, format string, f Filter) (int, error) {
	enc, flush, err := newEncoder(w, format)
	if err != nil {
		return 0, err
	}
	f.Limit = exportBatch
	n, cursor := 0, ""
	for {
		p, err := l.Page(ctx, f, cursor)
		if err != nil {
			return n, err
		}
		for _, e := range p.Events {
			if err := enc(e); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
			n++
		}
		if p.Next == "" {
			return n, flush()
		}
		cursor = p.Next
	}
}

// EncodeEvents writes events to w in format (Export without the database).
func EncodeEvents(w io.Writer, format string, events []Event) error {
	enc, flush, err := newEncoder(w, format)
	if err != nil {
		return err
	}
	for _, e := range events {
		if err := enc(e); err != nil {
			return fmt.Errorf("audit: encode: %w", err)
		}
	}
	return flush()
}

func newEncoder(w io.Writer, format string) (enc func(Event) error, flush func() error, err error) {
	switch format {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return nil, nil, err
		}
		enc = func(e Event) error {
			row := []string{strconv.FormatUint(e.ID, 10), stampOf(e.Time), e.Type, e.UserID, e.FlowID, e.IP, e.UserAgent, e.Outcome, e.Detail}
			for i := range row {
				row[i] = defuse(row[i])
			}
			return cw.Write(row)
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	case JSONL:
		bw := bufio.NewWriter(w)
		je := json.NewEncoder(bw)
		je.SetEscapeHTML(false)
		enc = func(e Event) error {
			e.Time = e.Time.UTC() // RFC 3339 with nanoseconds, as in the CSV
			return je.Encode(e)
		}
		flush = bw.Flush
	default:
		return nil, nil, ErrFormat
	}
	return enc, flush, nil
}

func stampOf(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// defuse keeps a spreadsheet from running a cell as a formula (a
// User-Agent of "=HYPERLINK(...)"): a value starting with = + - @ or a
// tab gets a leading apostrophe, as OWASP advises, and so does one that
// already starts with an apostrophe, so reading strips exactly one and
// every value round-trips.
func defuse(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t'", rune(v[0])) {
		return "'" + v
	}
	return v
}

func undefuse(v string) string {
	if strings.HasPrefix(v, "'") {
		return v[1:]
	}
	return v
}

// ReadExport parses what Export or EncodeEvents wrote in format.
func ReadExport(r io.Reader, format string) ([]Event, error) {
	var out []Event
	switch format {
	case CSV:
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = len(csvHeader)
		head, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("audit: read csv: %w", err)
		}
		if !slices.Equal(head, csvHeader) {
			return nil, fmt.Errorf("audit: read csv: header is %q, want %q", head, csvHeader)
		}
		for {
			row, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("audit: read csv: %w", err)
			}
			for i := range row {
				row[i] = undefuse(row[i])
			}
			e, err := csvEvent(row)
			if err != nil {
				return nil, fmt.Errorf("audit: read csv line %d: %w", len(out)+2, err)
			}
			out = append(out, e)
		}
	case JSONL:
		dec := json.NewDecoder(r)
		dec.DisallowUnknownFields()
		for {
			var e Event
			err := dec.Decode(&e)
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("audit: read jsonl record %d: %w", len(out)+1, err)
			}
			e.Time = e.Time.UTC()
			out = append(out, e)
		}
	}
	return nil, ErrFormat
}

// csvEvent reads a CSV row in csvHeader's order.
func csvEvent(row []string) (Event, error) {
	n, err := strconv.ParseUint(row[0], 10, 64)
	if err != nil {
		return Event{}, fmt.Errorf("id %q: %w", row[0], err)
	}
	t, err := time.Parse(time.RFC3339Nano, row[1])
	if err != nil {
		return Event{}, fmt.Errorf("time: %w", err)
	}
	return Event{ID: n, Time: t.UTC(), Type: row[2], UserID: row[3], FlowID: row[4], IP: row[5],
		UserAgent: row[6], Outcome: row[7], Detail: row[8]}, nil
}
