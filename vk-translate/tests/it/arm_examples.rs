//! Every container group in ../shared/aci-spec examples deserializes and round-trips.
