"""No pytest plugin: the SDK registers one that configures OpenTelemetry."""
