// Command octopus runs the Octopus event fabric and its tools.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "octopus",
		Short:         "Octopus: a Kafka-compatible event fabric for distributed science",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(), newBenchCmd())
	root.AddCommand(newLoginCmd(), newWhoamiCmd(), newUserCmd(), newKeyCmd(), newTopicCmd(),
		newTriggerCmd(), newProduceCmd(), newConsumeCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "octopus:", err)
		os.Exit(exitCode(err))
	}
}
