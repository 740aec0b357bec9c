module expvar-service

go 1.19
