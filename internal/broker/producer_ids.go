package broker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/octofabric/octopus/internal/fsutil"
)

// producerIDs hands out producer ids that are never reused across restarts:
// it persists the end of a reserved block before handing out ids from it.
type producerIDs struct {
	mu   sync.Mutex
	path string
	next int64
	end  int64 // exclusive end of the persisted block
}

const producerIDBlock = 1000

func openProducerIDs(path string) (*producerIDs, error) {
	p := &producerIDs{path: path}
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		n, perr := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if perr != nil || n < 0 {
			return nil, fmt.Errorf("broker: %s: bad content", path)
		}
		p.next, p.end = n, n
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("broker: producer ids: %w", err)
	}
	return p, nil
}

// allocate returns a fresh producer id.
func (p *producerIDs) allocate() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		end := p.next + producerIDBlock
		if err := fsutil.WriteFileAtomic(p.path, []byte(strconv.FormatInt(end, 10)+"\n"), 0o644); err != nil {
			return 0, err
		}
		p.end = end
	}
	id := p.next
	p.next++
	return id, nil
}
