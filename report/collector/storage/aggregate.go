package storage

import (
	"context"
	"fmt"
	"strings"
)

// Axis is one dimension an aggregate groups by.
type Axis string

// Axes an aggregate can group by. Day and Hour bucket measurement_start_time (UTC).
const (
	AxisDay      Axis = "day"
	AxisHour     Axis = "hour"
	AxisProbeCC  Axis = "probe_cc"
	AxisProbeASN Axis = "probe_asn"
	AxisTestName Axis = "test_name"
	AxisVerdict  Axis = "verdict"
	AxisMethod   Axis = "method"
	AxisDomain   Axis = "domain"
)

// axisColumns maps each axis to the SQL expression it groups by. Only these
// expressions ever reach a query: an axis is never spliced in from user input.
var axisColumns = map[Axis]string{
	AxisDay:      "start_time / 86400",
	AxisHour:     "start_time / 3600",
	AxisProbeCC:  "probe_cc",
	AxisProbeASN: "probe_asn",
	AxisTestName: "test_name",
	AxisVerdict:  "verdict",
	AxisMethod:   "method",
	AxisDomain:   "domain",
}

// ValidAxis reports whether a is an axis Aggregate accepts.
func ValidAxis(a Axis) bool { _, ok := axisColumns[a]; return ok }

// Bucket is one cell of an aggregate: its key on every axis, in the order asked, and
// its count. Day and hour keys are Unix times of the bucket's start, in seconds.
type Bucket struct {
	Keys  []any // string, or int64 for day and hour
	Count int64
}

// Aggregate counts the measurements matching f grouped by the given axes, ordered
// by those axes. With orderByCount the biggest buckets come first instead. At most
// limit buckets are returned.
func (s *DB) Aggregate(ctx context.Context, f Filter, by []Axis, orderByCount bool, limit int) ([]Bucket, error) {
	if len(by) == 0 {
		return nil, fmt.Errorf("storage: aggregate: no axis")
	}
	cols := make([]string, len(by))
	for i, a := range by {
		col, ok := axisColumns[a]
		if !ok {
			return nil, fmt.Errorf("storage: aggregate: unknown axis %q", a)
		}
		cols[i] = col
	}
	group := strings.Join(cols, ", ")
	order := group
	if orderByCount {
		order = "COUNT(*) DESC, " + group
	}
	where, args := f.where()
	query := `SELECT ` + group + `, COUNT(*) FROM measurements` + where +
		` GROUP BY ` + group + ` ORDER BY ` + order + ` LIMIT ?`
	rows, err := s.read.QueryContext(ctx, s.dialect.q(query), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("storage: aggregate: %w", err)
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		b := Bucket{Keys: make([]any, len(by))}
		dst := make([]any, len(by)+1)
		strs := make([]string, len(by))
		nums := make([]int64, len(by))
		for i, a := range by {
			if a == AxisDay || a == AxisHour {
				dst[i] = &nums[i]
			} else {
				dst[i] = &strs[i]
			}
		}
		dst[len(by)] = &b.Count
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("storage: aggregate: %w", err)
		}
		for i, a := range by {
			switch a {
			case AxisDay:
				b.Keys[i] = nums[i] * 86400
			case AxisHour:
				b.Keys[i] = nums[i] * 3600
			default:
				b.Keys[i] = strs[i]
			}
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: aggregate: %w", err)
	}
	return out, nil
}
