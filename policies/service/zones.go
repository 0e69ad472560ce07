package service

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"time"
)

// zoneinfoZip is the IANA time zone database (2025c) as Go ships it
// ($GOROOT/lib/time/zoneinfo.zip). Business hours are read from this copy
// only, never from the host's zoneinfo: two workers with different tzdata
// would otherwise compute different SLA deadlines for the same history.
// Replacing it changes running cases' deadlines, so it is a workflow change.
//
//go:embed zoneinfo.zip
var zoneinfoZip []byte

// zoneArchive is zoneinfoZip's index, read once when the package loads.
var zoneArchive, zoneArchiveErr = zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))

// Zone is the named IANA time zone from the embedded database: the same
// rules on every machine and every replay. "UTC" is UTC.
func Zone(name string) (*time.Location, error) {
	if name == "UTC" {
		return time.UTC, nil
	}
	data, err := ZoneData(name)
	if err != nil {
		return nil, err
	}
	return time.LoadLocationFromTZData(name, data)
}

// ZoneData is the named zone's compiled rules (TZif) from the embedded database.
func ZoneData(name string) ([]byte, error) {
	if zoneArchiveErr != nil {
		return nil, fmt.Errorf("time zones: %w", zoneArchiveErr)
	}
	f, err := zoneArchive.Open(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return data, nil
}
