package logs

import "github.com/lbd-ha/lbd/proxy"

// Record is the proxy's access-log record: the proxy fills it, the
// formatters in this package turn it into bytes.
type Record = proxy.LogRecord
