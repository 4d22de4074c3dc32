// Command demotraffic writes a small, steady workload to the demo's
// PostgreSQL and MariaDB shop databases (see deploy/demo), so the dashboard
// has something to show. It runs until interrupted.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func main() {
	pg := flag.String("pg", "postgres://postgres@127.0.0.1:55432/shop?sslmode=disable", "PostgreSQL shop database")
	my := flag.String("mysql", "root@tcp(127.0.0.1:53306)/shop", "MariaDB shop database")
	rate := flag.Int("rate", 20, "transactions per second on each database")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{}, 2)
	go func() { run(ctx, log, "pgx", *pg, *rate, pgTxn); done <- struct{}{} }()
	go func() { run(ctx, log, "mysql", *my, *rate, myTxn); done <- struct{}{} }()
	<-done
	<-done
}

func run(ctx context.Context, log *slog.Logger, driver, dsn string, rate int, txn func(context.Context, *sql.DB, *rand.Rand) error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		log.Error("open", "driver", driver, "err", err)
		return
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			log.Info("traffic stopped", "driver", driver, "transactions", n)
			return
		case <-tick.C:
		}
		if err := txn(ctx, db, rng); err != nil && ctx.Err() == nil {
			log.Warn("transaction failed; going on", "driver", driver, "err", err)
			continue
		}
		n++
	}
}

// pgTxn adds a customer with an order, or updates an order's total.
func pgTxn(ctx context.Context, db *sql.DB, rng *rand.Rand) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if rng.IntN(3) == 0 {
		if _, err := tx.ExecContext(ctx, "UPDATE orders SET total = total + 1 WHERE id = (SELECT max(id) FROM orders)"); err != nil {
			return err
		}
	} else {
		var id int64
		email := fmt.Sprintf("demo-%d-%d@example.com", time.Now().UnixNano(), rng.IntN(1000))
		if err := tx.QueryRowContext(ctx, "INSERT INTO customers (email, name) VALUES ($1, 'Demo') RETURNING id", email).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO orders (customer_id, total) VALUES ($1, $2)", id, fmt.Sprintf("%d.%02d", rng.IntN(200), rng.IntN(100))); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// myTxn adds a product or reprices one.
func myTxn(ctx context.Context, db *sql.DB, rng *rand.Rand) error {
	if rng.IntN(2) == 0 {
		_, err := db.ExecContext(ctx, "INSERT INTO products (sku, price) VALUES (?, ?)", fmt.Sprintf("sku-%d", time.Now().UnixNano()), fmt.Sprintf("%d.%02d", rng.IntN(50), rng.IntN(100)))
		return err
	}
	_, err := db.ExecContext(ctx, "UPDATE products SET price = price + 0.01 ORDER BY id DESC LIMIT 1")
	return err
}
