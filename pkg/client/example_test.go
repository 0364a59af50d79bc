package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/pkg/client"
)

// Create a key and a topic, then produce with the key.
func Example() {
	ctx := context.Background()
	c := client.New("http://127.0.0.1:8000", "oct_…")
	key, err := c.CreateKey(ctx, client.KeyRequest{Description: "laptop"})
	if err != nil {
		log.Fatal(err)
	}
	topic, err := c.CreateTopic(ctx, client.TopicRequest{Name: "events", Partitions: 3})
	if err != nil {
		log.Fatal(err)
	}
	cl, err := client.KafkaClient(key, kgo.DefaultProduceTopic(topic.Name))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
		log.Fatal(err)
	}
}

// Tell API errors apart by their code.
func ExampleError() {
	c := client.New("http://127.0.0.1:8000", "oct_…")
	_, err := c.GetTopic(context.Background(), "events")
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Code == "topic_not_found" {
		fmt.Println("no such topic")
	}
}

// Let another identity read a topic; identities are path-escaped.
func ExampleClient_PutGrant() {
	c := client.New("http://127.0.0.1:8000", "oct_…")
	g, err := c.PutGrant(context.Background(), "events", "https://issuer.example|1234", client.Access{Read: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.Identity, g.Read)
}
