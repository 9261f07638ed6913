package fluxconfig

import (
	"fmt"
	"testing"
)

func BenchmarkEncodeHostlist(b *testing.B) {
	for _, n := range []int{8, 1024} {
		hosts := BrokerHostnames("flux-sample", n)
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodeHostlist(hosts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeHostlist(b *testing.B) {
	for _, n := range []int{8, 1024} {
		list := BrokerHostlist("flux-sample", n)
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeHostlist(list); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRenderBrokerTOML(b *testing.B) {
	config := sampleBrokerConfig()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderBrokerTOML(config); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderR(b *testing.B) {
	hosts := BrokerHostnames("flux-sample", 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderR(hosts, 4, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderStartScript(b *testing.B) {
	options := sampleScriptOptions()
	options.Command = []string{"hostname"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderStartScript(options); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewCurveCertificate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewCurveCertificate("flux-sample", nil); err != nil {
			b.Fatal(err)
		}
	}
}
