//! Sans-IO protocol core for Pomelo's Identity (KYC) API.
