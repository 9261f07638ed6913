package fluxconfig

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// DefaultBrokerPort is the TCP port brokers listen on when BrokerConfig.Port
// is zero.
const DefaultBrokerPort = 8050

// DefaultBrokerBind is the ZeroMQ endpoint a broker binds when
// BrokerConfig.Bind is empty: the pod's interface on the broker port. Flux
// refuses localhost, IPv6 literals and a wildcard port here.
const DefaultBrokerBind = "tcp://eth0:%p"

// DefaultClusterDomain is the Kubernetes cluster domain used when
// BrokerConfig.ClusterDomain is empty.
const DefaultClusterDomain = "cluster.local"

// queuePolicies are the Fluxion queue policies a BrokerConfig may name
// (flux-config-sched-fluxion-qmanager(5)).
var queuePolicies = []string{"fcfs", "easy", "conservative", "hybrid"}

// bindPattern is what default_bind may be: tcp:// with an interface name, an
// IPv4 address or '*', and the port token or a number.
var bindPattern = regexp.MustCompile(`^tcp://([A-Za-z0-9][A-Za-z0-9._-]*|\*):(%p|[0-9]{1,5})$`)

// tbonTopoPattern is what tbon.topo may be (flux-broker-attributes(7)).
var tbonTopoPattern = regexp.MustCompile(`^(custom|binomial|kary:[0-9]{1,6}|mincrit(:[0-9]{1,6})?)$`)

// BrokerConfig is what the broker TOML of one MiniCluster is made from. The
// same file serves every broker; each finds its rank by looking up its own
// hostname in the hosts list.
type BrokerConfig struct {
	// Name prefixes the broker hostnames <Name>-<index>: the MiniCluster's name.
	Name string
	// ServiceName is the headless Service that gives brokers DNS names.
	ServiceName string
	// Namespace is the MiniCluster's namespace.
	Namespace string
	// ClusterDomain is the cluster DNS domain; empty means DefaultClusterDomain.
	ClusterDomain string
	// MaxSize is how many hosts the bootstrap list names. It never changes for
	// the life of a MiniCluster: brokers that do not exist yet are simply
	// offline.
	MaxSize int
	// Port is the broker port; zero means DefaultBrokerPort.
	Port int
	// Bind is the ZeroMQ bind endpoint; empty means DefaultBrokerBind.
	Bind string
	// CurveCertPath is where a broker reads the curve certificate.
	CurveCertPath string
	// RPath is where a broker reads R, the resource set (see RenderR).
	RPath string
	// QueuePolicy is the Fluxion queue policy: "fcfs", "easy",
	// "conservative" or "hybrid". Empty leaves Fluxion's default (fcfs) and
	// writes no Fluxion table.
	QueuePolicy string
	// TBONTopo selects the overlay tree (tbon.topo: "kary:N", "binomial",
	// "mincrit[:N]", "custom"); empty keeps Flux's default for configured
	// instances, where every broker connects to rank 0.
	TBONTopo string
	// AllowGuestUser lets users other than the instance owner connect.
	AllowGuestUser bool
	// AllowRootOwner gives root the owner role.
	AllowRootOwner bool
}

// brokerTOML is the broker configuration file. Flux checks the keys of each
// table strictly (a misspelled key stops the broker), so every key here is
// spelled as Flux documents it and nothing else is written.
type brokerTOML struct {
	Bootstrap bootstrapTable `toml:"bootstrap"`
	Access    accessTable    `toml:"access"`
	Resource  resourceTable  `toml:"resource"`
	TBON      *tbonTable     `toml:"tbon,omitempty"`
	Fluxion   *fluxionTable  `toml:"sched-fluxion-qmanager,omitempty"`
}

type bootstrapTable struct {
	CurveCert      string      `toml:"curve_cert"`
	DefaultPort    int         `toml:"default_port"`
	DefaultBind    string      `toml:"default_bind"`
	DefaultConnect string      `toml:"default_connect"`
	Hosts          []hostEntry `toml:"hosts,inline"`
}

type hostEntry struct {
	Host string `toml:"host"`
}

type accessTable struct {
	AllowGuestUser bool `toml:"allow-guest-user"`
	AllowRootOwner bool `toml:"allow-root-owner"`
}

type resourceTable struct {
	Path     string `toml:"path"`
	NoVerify bool   `toml:"noverify"`
}

type tbonTable struct {
	Topo string `toml:"topo"`
}

type fluxionTable struct {
	QueuePolicy string `toml:"queue-policy"`
}

// RenderBrokerTOML renders the broker configuration file that every broker
// of a MiniCluster reads with `flux start -c`:
//
//   - [bootstrap]: the curve certificate, the port, the bind endpoint, the
//     connect endpoint through the headless Service
//     (tcp://%h.<service>.<namespace>.svc.<domain>:%p), and one hosts entry
//     naming all MaxSize brokers, e.g. "flux-sample-[0-7]".
//   - [access]: guest and root access.
//   - [resource]: the path to R, with noverify so Flux does not drain a
//     broker whose pod sees different hardware than R describes.
//   - [tbon] topo, and [sched-fluxion-qmanager] queue-policy, when set.
//
// There is no [archive] table: that table configured flux-core's job-archive
// module, which current flux-core no longer has. Saving the instance to a
// file is done by the start script (see RenderStartScript).
func RenderBrokerTOML(config BrokerConfig) ([]byte, error) {
	config = config.withDefaults()
	if err := config.validate(); err != nil {
		return nil, err
	}
	file := brokerTOML{
		Bootstrap: bootstrapTable{
			CurveCert:   config.CurveCertPath,
			DefaultPort: config.Port,
			DefaultBind: config.Bind,
			DefaultConnect: fmt.Sprintf("tcp://%%h.%s.%s.svc.%s:%%p",
				config.ServiceName, config.Namespace, config.ClusterDomain),
			Hosts: []hostEntry{{Host: BrokerHostlist(config.Name, config.MaxSize)}},
		},
		Access: accessTable{
			AllowGuestUser: config.AllowGuestUser,
			AllowRootOwner: config.AllowRootOwner,
		},
		Resource: resourceTable{Path: config.RPath, NoVerify: true},
	}
	if config.TBONTopo != "" {
		file.TBON = &tbonTable{Topo: config.TBONTopo}
	}
	if config.QueuePolicy != "" {
		file.Fluxion = &fluxionTable{QueuePolicy: config.QueuePolicy}
	}
	var out bytes.Buffer
	out.WriteString("# Flux broker configuration, rendered by elasticflux.\n")
	out.WriteString("# The hosts list names every broker up to maxSize; brokers that do not\n")
	out.WriteString("# exist yet are offline until their pod starts.\n\n")
	if err := toml.NewEncoder(&out).Encode(file); err != nil {
		return nil, fmt.Errorf("encoding broker TOML: %w", err)
	}
	return out.Bytes(), nil
}

func (c BrokerConfig) withDefaults() BrokerConfig {
	if c.ClusterDomain == "" {
		c.ClusterDomain = DefaultClusterDomain
	}
	if c.Port == 0 {
		c.Port = DefaultBrokerPort
	}
	if c.Bind == "" {
		c.Bind = DefaultBrokerBind
	}
	return c
}

func (c BrokerConfig) validate() error {
	var errs []error
	if err := ValidateBrokerName(c.Name, c.MaxSize); err != nil {
		errs = append(errs, err)
	}
	if c.MaxSize > MaxHostlistHosts {
		errs = append(errs, fmt.Errorf("maxSize %d is more than %d", c.MaxSize, MaxHostlistHosts))
	}
	if err := validateDNSLabel(c.ServiceName); err != nil {
		errs = append(errs, fmt.Errorf("service name: %w", err))
	}
	if err := validateDNSLabel(c.Namespace); err != nil {
		errs = append(errs, fmt.Errorf("namespace: %w", err))
	}
	if err := validateDNSSubdomain(c.ClusterDomain); err != nil {
		errs = append(errs, fmt.Errorf("cluster domain: %w", err))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is not a TCP port", c.Port))
	}
	if !bindPattern.MatchString(c.Bind) || strings.Contains(c.Bind, "localhost") {
		errs = append(errs, fmt.Errorf("bind %q must be tcp://<interface, IPv4 address or *>:<%%p or port>, not localhost", c.Bind))
	}
	if err := validateAbsolutePath(c.CurveCertPath); err != nil {
		errs = append(errs, fmt.Errorf("curve certificate path: %w", err))
	}
	if err := validateAbsolutePath(c.RPath); err != nil {
		errs = append(errs, fmt.Errorf("R path: %w", err))
	}
	if c.QueuePolicy != "" && !slices.Contains(queuePolicies, c.QueuePolicy) {
		errs = append(errs, fmt.Errorf("queue policy %q is not one of %s", c.QueuePolicy, strings.Join(queuePolicies, ", ")))
	}
	if c.TBONTopo != "" && !tbonTopoPattern.MatchString(c.TBONTopo) {
		errs = append(errs, fmt.Errorf("tbon topology %q is not kary:N, binomial, mincrit[:N] or custom", c.TBONTopo))
	}
	return errors.Join(errs...)
}

// validateAbsolutePath checks a path inside the broker container: absolute,
// clean, and free of control characters that would garble a config file or
// a script.
func validateAbsolutePath(p string) error {
	switch {
	case p == "":
		return errors.New("is empty")
	case !path.IsAbs(p):
		return fmt.Errorf("%q is not absolute", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean (want %q)", p, path.Clean(p))
	case p == "/":
		return errors.New(`"/" is a directory, not a file`)
	}
	for _, c := range []byte(p) {
		if c < ' ' || c == 0x7f {
			return fmt.Errorf("%q has a control character", p)
		}
	}
	return nil
}
