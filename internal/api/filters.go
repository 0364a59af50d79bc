package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/trigger/filter"
)

// filterTestRequest is the body of POST /api/v1/filters/test.
type filterTestRequest struct {
	Filter json.RawMessage  `json:"filter"`
	Record filterTestRecord `json:"record"`
}

// filterTestRecord is the record a filter is tried on. Value is any JSON:
// a JSON string is the value's bytes, anything else its JSON text (as a
// producer would have sent it); absent, the value is null.
type filterTestRecord struct {
	Value     json.RawMessage   `json:"value,omitempty"`
	Key       *string           `json:"key,omitempty"` // absent: no key
	Headers   map[string]string `json:"headers,omitempty"`
	Topic     string            `json:"topic,omitempty"`
	Partition int32             `json:"partition,omitempty"`
	Offset    int64             `json:"offset,omitempty"`
	Timestamp int64             `json:"timestamp,omitempty"` // ms since the epoch
}

// record turns the request's record into the filter's.
func (tr filterTestRecord) record() (*filter.Record, error) {
	rec := &filter.Record{Topic: tr.Topic, Partition: tr.Partition, Offset: tr.Offset, Timestamp: tr.Timestamp}
	if v := bytes.TrimSpace(tr.Value); len(v) > 0 {
		rec.Value = v
		if v[0] == '"' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, badField(CodeInvalidType, "record.value", "the value is not valid JSON")
			}
			rec.Value = []byte(s)
		}
	}
	if tr.Key != nil {
		rec.Key = []byte(*tr.Key)
	}
	keys := make([]string, 0, len(tr.Headers))
	for k := range tr.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rec.Headers = append(rec.Headers, filter.Header{Key: k, Value: []byte(tr.Headers[k])})
	}
	return rec, nil
}

// testFilter answers POST /api/v1/filters/test: {"match": true|false}, or
// a 400 whose details.field names the bad place in the filter.
func (a *API) testFilter(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	var req filterTestRequest
	if err := a.decode(w, r, &req, false); err != nil {
		return err
	}
	rec, err := req.Record.record()
	if err != nil {
		return err
	}
	match, err := a.f.TestFilter(req.Filter, rec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"match": match})
	return nil
}
