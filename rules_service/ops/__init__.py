"""Operations endpoints: liveness, readiness (database and Redis), Prometheus metrics."""
