package sinks

import (
	"fmt"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
)

// ChangeFilter decides what of each change a follower applies (package
// filter: a sink's columns: and where: rules). Filter rewrites ch in
// place and reports whether it is kept.
type ChangeFilter interface {
	Filter(ch *ordering.Change) (bool, error)
}

// filterTxn passes txn's changes through f once, as they are read: the
// kept ones, rewritten, stay (a transaction left with none still advances
// the sink's positions); a big transaction's stream is filtered as it is
// applied. An error names the transaction and its position.
func filterTxn(f ChangeFilter, source string, txn *kafka.Txn) error {
	where := func(err error) error {
		return fmt.Errorf("transaction %s of source %s (position %s): %w", txn.End.Seq, source, txn.End.Pos, err)
	}
	if txn.Stream != nil {
		in := txn.Stream
		txn.Stream = func(yield func(*ordering.Change, error) bool) {
			for ch, err := range in {
				if err == nil {
					var keep bool
					if keep, err = f.Filter(ch); err == nil && !keep {
						continue
					}
					if err != nil {
						err = where(err)
					}
				}
				if !yield(ch, err) {
					return
				}
			}
		}
		return nil
	}
	kept := txn.Changes[:0]
	for i := range txn.Changes {
		ch := txn.Changes[i]
		keep, err := f.Filter(&ch)
		if err != nil {
			return where(err)
		}
		if keep {
			kept = append(kept, ch)
		}
	}
	clear(txn.Changes[len(kept):])
	txn.Changes = kept
	return nil
}
