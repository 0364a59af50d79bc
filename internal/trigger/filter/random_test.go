package filter

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// TestRandomAgainstReference matches random small records against random
// patterns built from a few names, so that lists of objects, shared arrays,
// exists:false, dotted keys and duplicate keys meet often, and compares
// Match with the reference matcher.
func TestRandomAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	n := 40000
	if testing.Short() || raceEnabled {
		n = 4000
	}
	checked := 0
	for i := 0; i < n; i++ {
		var pb strings.Builder
		randPattern(rng, &pb, 0)
		filter := `[{"value": ` + pb.String() + `}]`
		f, err := Compile([]byte(filter))
		if err != nil {
			continue
		}
		for j := 0; j < 4; j++ {
			var vb strings.Builder
			randValue(rng, &vb, 0)
			r := &Record{Value: []byte(vb.String())}
			want, ok := refMatch(f, r)
			if !ok {
				continue
			}
			checked++
			if got := f.Match(r); got != want {
				t.Fatalf("filter %s\nvalue %s\nMatch = %v, reference = %v", filter, r.Value, got, want)
			}
		}
	}
	// Patterns made from the record's own leaves, so that most fields exist
	// and the array rules decide.
	for i := 0; i < n; i++ {
		var vb strings.Builder
		randValue(rng, &vb, 0)
		r := &Record{Value: []byte(vb.String())}
		ev, ok := refFlatten(r)
		if !ok || len(ev.leaves) == 0 {
			continue
		}
		// Prefer leaves that share an array with the first one picked.
		first := ev.leaves[rng.Intn(len(ev.leaves))]
		var near []refLeaf
		for _, l := range ev.leaves {
			if !refConsistent(l.member, first.member) || sharesArray(l.member, first.member) {
				near = append(near, l)
			}
		}
		var pb strings.Builder
		pb.WriteString(`[{"value": {`)
		for j, k := 0, 1+rng.Intn(3); j < k; j++ {
			l := first
			if j > 0 {
				l = ev.leaves[rng.Intn(len(ev.leaves))]
				if len(near) > 0 && rng.Intn(4) != 0 {
					l = near[rng.Intn(len(near))]
				}
			}
			if j > 0 {
				pb.WriteByte(',')
			}
			name := strings.TrimPrefix(l.path, "value.")
			if name == "value" {
				name = "z"
			}
			pb.WriteString(strconv.Quote(name) + ":" + leafList(rng, &l.val))
		}
		pb.WriteString(`}}]`)
		f, err := Compile([]byte(pb.String()))
		if err != nil {
			t.Fatalf("Compile(%s): %v", pb.String(), err)
		}
		want, ok := refMatch(f, r)
		if !ok {
			continue
		}
		checked++
		if got := f.Match(r); got != want {
			t.Fatalf("filter %s\nvalue %s\nMatch = %v, reference = %v", pb.String(), r.Value, got, want)
		}
	}
	t.Logf("%d records checked", checked)
}

// leafList returns a value list about a leaf: the leaf itself, or something
// near it.
func leafList(rng *rand.Rand, v *leaf) string {
	lit := "null"
	switch v.kind {
	case lString:
		lit = strconv.Quote(string(v.s))
	case lNumber:
		lit = string(v.s)
	case lTrue:
		lit = "true"
	case lFalse:
		lit = "false"
	}
	switch rng.Intn(6) {
	case 0, 1:
		return "[" + lit + "]"
	case 2:
		return `[{"exists": false}]`
	case 3:
		return `[{"exists": false}, ` + lit + `]`
	case 4:
		return `[{"exists": true}]`
	}
	return randLists[rng.Intn(len(randLists))]
}

var randNames = []string{"a", "b", "c", "a", "b", "c", "a.b", "b.c"}

func randValue(rng *rand.Rand, b *strings.Builder, depth int) {
	k := rng.Intn(10)
	switch {
	case depth == 0:
		k = 0
	case depth > 3 && k < 5:
		k = 5 + rng.Intn(5)
	case depth <= 2 && k >= 5 && rng.Intn(4) != 0:
		k = rng.Intn(5) // containers near the top, so arrays are shared
	case depth == 1 && k < 3 && rng.Intn(2) == 0:
		k = 3 // lists of objects
	}
	switch {
	case k < 3:
		b.WriteByte('{')
		for i, n := 0, rng.Intn(4); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + randNames[rng.Intn(len(randNames))] + `":`)
			randValue(rng, b, depth+1)
		}
		b.WriteByte('}')
	case k < 5:
		b.WriteByte('[')
		for i, n := 0, rng.Intn(4); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			randValue(rng, b, depth+1)
		}
		b.WriteByte(']')
	default:
		b.WriteString([]string{`"x"`, `"y"`, `"X"`, `""`, `0`, `1`, `1.0`, `-2`, `true`, `false`, `null`}[rng.Intn(11)])
	}
}

var randLists = []string{
	`["x"]`, `[1]`, `[null]`, `["y", 0]`, `[true]`,
	`[{"exists": false}]`, `[{"exists": true}]`, `[{"exists": false}, "x"]`,
	`[{"anything-but": "x"}]`, `[{"anything-but": [0, 1]}]`, `[{"numeric": [">", 0]}]`,
	`[{"prefix": "x"}]`, `[{"equals-ignore-case": "x"}]`, `[{"anything-but": {"prefix": "y"}}, {"exists": false}]`,
}

func randPattern(rng *rand.Rand, b *strings.Builder, depth int) {
	b.WriteByte('{')
	n := 1 + rng.Intn(3)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if depth < 2 && rng.Intn(8) == 0 {
			b.WriteString(`"$or": [`)
			randPattern(rng, b, depth+1)
			b.WriteByte(',')
			randPattern(rng, b, depth+1)
			b.WriteByte(']')
			continue
		}
		b.WriteString(`"` + randNames[rng.Intn(len(randNames))] + `":`)
		if depth < 3 && rng.Intn(3) == 0 {
			randPattern(rng, b, depth+1)
		} else {
			b.WriteString(randLists[rng.Intn(len(randLists))])
		}
	}
	b.WriteByte('}')
}

func sharesArray(a, b []refPos) bool {
	for _, x := range a {
		for _, y := range b {
			if x.array == y.array {
				return true
			}
		}
	}
	return false
}
