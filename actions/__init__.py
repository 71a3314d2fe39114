"""CityLink action server: one module per service domain."""
