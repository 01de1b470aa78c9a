package statusdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/spx-archive/spx/pkg/spx"
)

// Day records: one per trade date, keyed by its YYYYMMDD.

func putDay(tx *bolt.Tx, rec spx.DayRecord) error {
	if rec.Date.IsZero() {
		return errors.New("day record without a date")
	}
	b, err := bucket(tx, bucketDays)
	if err != nil {
		return err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding day %s: %w", rec.Date, err)
	}
	return b.Put(dayKey(rec.Date), v)
}

func getDay(tx *bolt.Tx, d spx.Date) (spx.DayRecord, bool, error) {
	var rec spx.DayRecord
	b := tx.Bucket(bucketDays)
	if b == nil {
		return rec, false, nil
	}
	v := b.Get(dayKey(d))
	if v == nil {
		return rec, false, nil
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, false, fmt.Errorf("decoding day %s: %w", d, err)
	}
	return rec, true, nil
}

// PutDay inserts or replaces a day record.
func (s *Store) PutDay(ctx context.Context, rec spx.DayRecord) error {
	return s.update(ctx, func(tx *bolt.Tx) error { return putDay(tx, rec) })
}

// UpdateDay applies fn to the day's record (zero record with Date set if
// none exists) and stores the result.
func (s *Store) UpdateDay(ctx context.Context, date spx.Date, fn func(*spx.DayRecord) error) (spx.DayRecord, error) {
	var out spx.DayRecord
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rec, ok, err := getDay(tx, date)
		if err != nil {
			return err
		}
		if !ok {
			rec = spx.DayRecord{Date: date}
		}
		if err := fn(&rec); err != nil {
			return err
		}
		rec.Date = date
		out = rec
		return putDay(tx, rec)
	})
	if err != nil {
		return spx.DayRecord{}, err
	}
	return out, nil
}

// Day returns one day's record.
func (s *Store) Day(ctx context.Context, date spx.Date) (rec spx.DayRecord, ok bool, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		rec, ok, err = getDay(tx, date)
		return err
	})
	return rec, ok, err
}

// Days lists day records in [from, to] (zero = unbounded), by date.
func (s *Store) Days(ctx context.Context, from, to spx.Date) ([]spx.DayRecord, error) {
	var out []spx.DayRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDays)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		if from.IsZero() {
			k, v = c.First()
		} else {
			k, v = c.Seek(dayKey(from))
		}
		for ; k != nil; k, v = c.Next() {
			if !to.IsZero() && string(k) > to.Compact() {
				break
			}
			var rec spx.DayRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decoding day %s: %w", k, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// DeleteDay removes the day's record unless the day has job records (a
// day's jobs are its history; their record stays), in one transaction. It
// reports whether a record was removed.
func (s *Store) DeleteDay(ctx context.Context, date spx.Date) (bool, error) {
	removed := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDays)
		if b == nil || b.Get(dayKey(date)) == nil {
			return nil
		}
		if idx := tx.Bucket(bucketJobsByDate); idx != nil {
			prefix := []byte(date.Compact() + "|")
			if k, _ := idx.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
				return nil
			}
		}
		removed = true
		return b.Delete(dayKey(date))
	})
	return removed, err
}
