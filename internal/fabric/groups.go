package fabric

import (
	"context"
	"sort"
)

// GroupLag is a consumer group with committed offsets on a topic.
type GroupLag struct {
	Group      string         `json:"group"`
	State      string         `json:"state"` // Stable, Empty, …
	Members    int            `json:"members"`
	Lag        int64          `json:"lag"` // the sum over partitions with a known lag
	Partitions []PartitionLag `json:"partitions"`
}

// PartitionLag is a group's position in one partition.
type PartitionLag struct {
	Partition int32 `json:"partition"`
	Committed int64 `json:"committed"` // -1: no commit
	End       int64 `json:"end"`
	Lag       int64 `json:"lag"` // -1: unknown
}

// TopicGroups returns the consumer groups with committed offsets on a
// topic, with their lag, in group order; owner only.
func (f *Fabric) TopicGroups(ctx context.Context, c Caller, topic string) ([]GroupLag, error) {
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return nil, err
	}
	a, err := f.lookup(ctx, id, topic, true)
	if err != nil {
		return nil, err
	}
	listed, err := f.adm.ListGroups(ctx)
	if err != nil {
		return nil, kafkaErr("list groups", err)
	}
	names := listed.Groups()
	out := []GroupLag{}
	if len(names) == 0 {
		return out, nil
	}
	lags, err := f.adm.Lag(ctx, names...)
	if err != nil {
		return nil, kafkaErr("group lag", err)
	}
	for _, l := range lags.Sorted() {
		if l.Error() != nil {
			continue
		}
		parts := l.Lag[a.topic.Name]
		g := GroupLag{Group: l.Group, State: l.State, Members: len(l.Members)}
		for _, m := range parts {
			if m.Commit.At < 0 {
				continue
			}
			pl := PartitionLag{Partition: m.Partition, Committed: m.Commit.At, End: m.End.Offset, Lag: m.Lag}
			if m.Lag >= 0 {
				g.Lag += m.Lag
			}
			g.Partitions = append(g.Partitions, pl)
		}
		if len(g.Partitions) == 0 {
			continue
		}
		sort.Slice(g.Partitions, func(i, j int) bool { return g.Partitions[i].Partition < g.Partitions[j].Partition })
		out = append(out, g)
	}
	return out, nil
}
