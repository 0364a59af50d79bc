package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// SyncGroup v0-v5. Followers wait, off the read loop, for the leader's
// assignment.
func init() { register(14, 0, 5, handleSyncGroup) }

func handleSyncGroup(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SyncGroupRequest)
	return r.later(func() (kmsg.Response, error) {
		resp := b.groups.Sync(r.ctx, req)
		if resp == nil {
			return nil, r.ctx.Err()
		}
		return resp, nil
	})
}
