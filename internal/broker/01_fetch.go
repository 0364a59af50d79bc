package broker

import (
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// Fetch v4-v17. Record data is never decoded or copied into the response:
// each partition's batches are a plog.View, spliced into the encoded
// response by the write loop (sendfile on plaintext TCP).
//
// Fetch sessions (KIP-227) are declined: every response carries SessionID 0,
// which tells clients to keep sending full requests.
func init() { register(1, 4, 17, handleFetch) }

func handleFetch(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FetchRequest)
	if req.SessionID != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	denied := fetchDenied(b, r, req)
	resp, readable, immediate := b.gatherFetch(r, req, denied)
	maxWait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	// A fetch of nothing (a closing consumer sends one) is answered at
	// once, as Kafka does.
	if immediate || readable >= int(req.MinBytes) || maxWait <= 0 || len(r.waits) == 0 {
		return resp, nil
	}
	return r.later(func() (kmsg.Response, error) {
		timer := time.NewTimer(maxWait)
		defer timer.Stop()
		for {
			cases := make([]reflect.SelectCase, 0, len(r.waits)+2)
			cases = append(cases,
				reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
				reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(r.ctx.Done())})
			for _, ch := range r.waits {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
			}
			chosen, _, _ := reflect.Select(cases)
			if chosen == 1 {
				return nil, r.ctx.Err()
			}
			timedOut := chosen == 0
			r.releaseViews()
			resp, readable, immediate = b.gatherFetch(r, req, denied)
			if timedOut || immediate || readable >= int(req.MinBytes) {
				return resp, nil
			}
		}
	})
}

// fetchDenied authorizes a Fetch once, before the first read, as
// KafkaApis.handleFetchRequest: a consumer needs READ on each topic; a
// fetch from a replica (replica id >= 0) needs CLUSTER_ACTION on the
// cluster instead, else every partition is refused. Topics given by an id
// that does not resolve are left to UNKNOWN_TOPIC_ID (ids are not
// sensitive). It returns nil when everything is allowed, else a flag per
// entry of req.Topics.
func fetchDenied(b *Broker, r *request, req *kmsg.FetchRequest) []bool {
	if b.authz == nil {
		return nil
	}
	replica := req.ReplicaID
	if r.version >= 15 {
		replica = req.ReplicaState.ID
	}
	denied := make([]bool, len(req.Topics))
	if replica >= 0 {
		if !r.allowedCluster(acl.ClusterAction) {
			for i := range denied {
				denied[i] = true
			}
		}
		return denied
	}
	check := r.topicChecker(acl.Read)
	for i, rt := range req.Topics {
		name := rt.Topic
		if r.version >= 13 {
			t := b.lookupTopicID(rt.TopicID)
			if t == nil {
				continue
			}
			name = t.name
		}
		denied[i] = !check.ok(name)
	}
	return denied
}

// gatherFetch reads every requested partition once. It returns the response,
// the record bytes it holds, and whether it must be sent at once (an error).
// It leaves in r.waits a channel per partition that fires when more data
// becomes visible, taken before reading so no append is missed.
func (b *Broker) gatherFetch(r *request, req *kmsg.FetchRequest, denied []bool) (*kmsg.FetchResponse, int, bool) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = 0
	r.waits = r.waits[:0]
	remaining := int(req.MaxBytes)
	if r.version < 3 || remaining <= 0 {
		remaining = 1 << 30
	}
	readable := 0
	minOne := true // KIP-74: the first batch found is sent even if too large
	immediate := false
	for i, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		deny := denied != nil && denied[i]
		var t *topic
		if r.version >= 13 {
			t = b.lookupTopicID(rt.TopicID)
		} else {
			t = b.lookupTopic(rt.Topic)
		}
		var parts []*partition
		if t != nil {
			parts = b.partitionsOf(t)
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = []byte{}
			switch {
			case t == nil && r.version >= 13 && !deny:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case deny:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(parts):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				l := parts[rp.Partition].log
				r.waits = append(r.waits, l.Wait())
				hw := l.HighWatermark()
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, l.LogStartOffset()
				limit := min(int(rp.PartitionMaxBytes), remaining)
				v, err := l.Read(rp.FetchOffset, int32(max(limit, 0)), minOne)
				if err != nil {
					sp.ErrorCode = errorCode(err)
					break
				}
				if n := v.Len(); n > 0 {
					sp.RecordBatches = marker(len(r.views))
					r.views = append(r.views, v)
					readable += n
					remaining -= n
					minOne = false
				} else {
					v.Release()
				}
			}
			if sp.ErrorCode != 0 {
				// Kafka reports no offsets with a partition error.
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				immediate = true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, readable, immediate
}

func (r *request) releaseViews() {
	for i := range r.views {
		r.views[i].Release()
	}
	r.views = r.views[:0]
}
