package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions v0-v4.
const apiVersionsKey = 18

func init() { register(apiVersionsKey, 0, 4, handleApiVersions) }

func handleApiVersions(b *Broker, r *request) (kmsg.Response, error) {
	resp := r.kreq.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = supportedKeys()
	return resp, nil
}

// unsupportedApiVersions answers an ApiVersions request of a version we do
// not know: Kafka sends a v0 response with the error and the versions it
// supports, and the client retries with one of them.
func unsupportedApiVersions() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = supportedKeys()
	return resp
}

func supportedKeys() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for k, h := range handlers {
		if h == nil {
			continue
		}
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = int16(k), h.min, h.max
		keys = append(keys, ak)
	}
	return keys
}
