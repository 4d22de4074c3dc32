package deps
import (
 _ "github.com/go-mysql-org/go-mysql/replication"
 _ "github.com/segmentio/kafka-go"
 _ "github.com/jackc/pglogrepl"
 _ "github.com/jackc/pgx/v5"
 _ "github.com/mattn/go-sqlite3"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/spf13/cobra"
 _ "github.com/cenkalti/backoff/v5"
 _ "github.com/go-sql-driver/mysql"
)
