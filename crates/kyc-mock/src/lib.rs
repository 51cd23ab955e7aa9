//! A local simulator of Pomelo's Identity (KYC) API.
