package vrrp

import "time"

// SkewTime is RFC 5798 §6.1 Skew_Time for a backup of the given priority:
//
//	v3: ((256 - priority) * Master_Adver_Interval) / 256
//	v2: (256 - priority) / 256 seconds (RFC 3768 §6.1), whatever the interval
//
// It is computed at nanosecond resolution like keepalived (microseconds),
// not truncated to centiseconds: 1 s adverts at priority 100 give 609.375 ms.
func SkewTime(version int, priority int, masterAdverInterval time.Duration) time.Duration {
	if version == 2 {
		masterAdverInterval = time.Second
	}
	return time.Duration(256-priority) * masterAdverInterval / 256
}

// MasterDownInterval is RFC 5798 §6.1 Master_Down_Interval:
// 3 * Master_Adver_Interval + Skew_Time (RFC 3768: 3 * Advertisement_Interval
// + Skew_Time).
func MasterDownInterval(version int, priority int, masterAdverInterval time.Duration) time.Duration {
	return 3*masterAdverInterval + SkewTime(version, priority, masterAdverInterval)
}
