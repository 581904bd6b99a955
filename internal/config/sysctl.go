package config

// Sysctl is the kernel tuning lbd applies at start (and `lbd sysctl`).
// Limits are only ever raised, never lowered.
type Sysctl struct {
	// Apply: false skips all sysctl writes. Default true.
	Apply *bool `mapstructure:"apply" yaml:"apply,omitempty"`
	// IPNonlocalBind sets net.ipv4.ip_nonlocal_bind=1 (and the ipv6 twin).
	// Default true.
	IPNonlocalBind *bool `mapstructure:"ip_nonlocal_bind" yaml:"ip_nonlocal_bind,omitempty"`
	// IPForward sets net.ipv4.ip_forward=1. Default true, as in the articles.
	IPForward *bool `mapstructure:"ip_forward" yaml:"ip_forward,omitempty"`
	// FileMax is the minimum fs.file-max; default 100000.
	FileMax int64 `mapstructure:"file_max" yaml:"file_max,omitempty"`
	// ConntrackMax is the minimum net.netfilter.nf_conntrack_max; default 131072.
	ConntrackMax int64 `mapstructure:"conntrack_max" yaml:"conntrack_max,omitempty"`
}
