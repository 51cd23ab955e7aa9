//! Open enums for the values Pomelo owns: session status, step status, flow type, country,
//! integration method and document type.
//!
//! Pomelo adds values without notice and spells some of them in ways its reference does not show
//! (API reference §12). Every enum here therefore has a catch-all variant, `Other`, that keeps an
//! unknown string exactly as received: parsing never fails on a new value, and serialising an
//! `Other` writes the original string back.

use std::fmt;

/// Declares an open enum: known wire values as variants, any other string kept in `Other`.
///
/// `$wire` is the spelling written on the wire; `$alias` lists extra spellings accepted on input
/// (for values whose wire spelling the reference leaves uncertain).
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal $(| $alias:literal)*,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
            /// A value this version of the library does not know, kept exactly as received.
            Other(String),
        }

        impl $name {
            /// Every value this version knows, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The value as written on the wire.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s.as_str(),
                }
            }

            /// Reads a wire value. Never fails: unknown values become `Other`.
            #[must_use]
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire $(| $alias)* => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }

            /// Whether this is one of the values this version knows.
            #[must_use]
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant => f.write_str(stringify!($variant)),)+
                    $name::Other(s) => f.debug_tuple("Other").field(s).finish(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::parse(s)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::parse(&s) {
                    $name::Other(_) => $name::Other(s),
                    known => known,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::parse(s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::parse(v))
                    }
                    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<$name, E> {
                        Ok($name::from(v))
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

open_enum! {
    /// Status of an identity validation session (API reference §6.2).
    ///
    /// Only `IN_PROGRESS` is confirmed by Pomelo; the other spellings follow Pomelo's SDKs and this
    /// project's decision 7.
    pub enum SessionStatus {
        /// Created; the user has not started yet.
        Pending = "PENDING",
        /// The user or the integrator is still providing data or documents.
        InProgress = "IN_PROGRESS",
        /// Everything was submitted; Pomelo's providers are checking it.
        Processing = "PROCESSING",
        /// Waiting for a human reviewer at Pomelo.
        ManualReview = "MANUAL_REVIEW",
        /// Every step succeeded: the person is verified. Final.
        Validated = "VALIDATED",
        /// The data was invalid; the webhook carries the reason. Retry with a new session. Final.
        NotValidated = "NOT_VALIDATED" | "NOT VALIDATED",
        /// The person is no longer eligible. Final.
        Rejected = "REJECTED",
        /// The session passed its `expiration_at`; create a new one. Final.
        Expired = "EXPIRED" | "SESSION_EXPIRED",
        /// Cancelled through the API. Final.
        Cancelled = "CANCELLED" | "CANCELED",
    }
}

impl SessionStatus {
    /// Whether the session can no longer change (validated, not validated, rejected, expired or
    /// cancelled). Unknown values are treated as not final.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            SessionStatus::Validated
                | SessionStatus::NotValidated
                | SessionStatus::Rejected
                | SessionStatus::Expired
                | SessionStatus::Cancelled
        )
    }
}

open_enum! {
    /// State of one step (check) of a session (API reference §6.1).
    pub enum StepStatus {
        /// Steps or information still pending.
        Pending = "PENDING",
        /// The step passed.
        Success = "SUCCESS",
        /// Waiting for the provider.
        Processing = "PROCESSING",
        /// The step failed.
        Failed = "FAILED",
        /// A dependency could not be reached. Pomelo writes it `NOT AVAILABLE` in its docs; the wire
        /// spelling is unknown, so both forms are read.
        NotAvailable = "NOT_AVAILABLE" | "NOT AVAILABLE",
    }
}

open_enum! {
    /// Which verification flow a session runs (API reference §5.1, §9.1).
    pub enum FlowType {
        /// KYC for accounts (the only KYC value Pomelo lists).
        KycAccounts = "kyc-accounts",
        /// KYC for cards (named in Pomelo's guides, not confirmed as a wire value).
        KycCards = "kyc-cards",
        /// KYB for cards.
        KybCards = "kyb-cards",
        /// KYB for accounts.
        KybAccounts = "kyb-accounts",
        /// KYB for an additional (employee) card holder.
        KybCardsAdditional = "kyb-cards-additional",
    }
}

open_enum! {
    /// A KYB partner's role in the company (reference §9.1). Pomelo's example shows one value;
    /// any other is kept and sent as given.
    pub enum PartnerType {
        /// The company's main legal representative.
        LegalRepresentativeMain = "legal-representative-main",
    }
}

impl FlowType {
    /// Whether this is one of the KYB flows (`kyb-…`), main or additional. Unknown values are
    /// judged by their prefix.
    #[must_use]
    pub fn is_kyb(&self) -> bool {
        self.as_str().starts_with("kyb-")
    }

    /// Whether this is a flow for an additional (employee) session (`…-additional`).
    #[must_use]
    pub fn is_additional(&self) -> bool {
        self.as_str().ends_with("-additional")
    }
}

open_enum! {
    /// Country of the person being verified, ISO 3166-1 alpha-3 (API reference §4.3).
    pub enum Country {
        /// Argentina.
        Arg = "ARG",
        /// Brazil.
        Bra = "BRA",
        /// Chile.
        Chl = "CHL",
        /// Mexico.
        Mex = "MEX",
        /// Colombia.
        Col = "COL",
        /// Peru.
        Per = "PER",
    }
}

open_enum! {
    /// How the person goes through the flow (API reference §5.1).
    pub enum IntegrationMethod {
        /// The integrator uploads documents through the API.
        Api = "API",
        /// The person is sent to Pomelo's web flow (the session `url`).
        Web = "WEB",
    }
}

open_enum! {
    /// Type of an uploaded document: the `{type_document}` path segment (API reference §7).
    pub enum DocumentType {
        /// A photo of the person's face.
        Selfie = "selfie",
        /// Front of the national identity card.
        IdentityCardFront = "identity-card-front",
        /// Back of the national identity card.
        IdentityCardBack = "identity-card-back",
        /// Front of the driver's licence (Brazil).
        DriverLicenseFront = "driver-license-front",
        /// Back of the driver's licence (Brazil).
        DriverLicenseBack = "driver-license-back",
        /// A document proving how a company is constituted (KYB).
        CompanyDocument = "company-document",
    }
}

impl DocumentType {
    /// The KYC document types Pomelo's reference lists for `country`, or `None` where the reference
    /// gives no list (Chile, Mexico, Colombia, Peru and unknown countries): then any type is sent
    /// and the server decides.
    ///
    /// KYB adds [`DocumentType::CompanyDocument`] in Argentina and Brazil; see
    /// [`DocumentType::allowed_for`].
    #[must_use]
    pub fn kyc_allowed(country: &Country) -> Option<&'static [DocumentType]> {
        const ARG: &[DocumentType] = &[
            DocumentType::Selfie,
            DocumentType::IdentityCardFront,
            DocumentType::IdentityCardBack,
        ];
        const BRA: &[DocumentType] = &[
            DocumentType::Selfie,
            DocumentType::IdentityCardFront,
            DocumentType::IdentityCardBack,
            DocumentType::DriverLicenseFront,
            DocumentType::DriverLicenseBack,
        ];
        match country {
            Country::Arg => Some(ARG),
            Country::Bra => Some(BRA),
            _ => None,
        }
    }

    /// Whether the reference allows this document type in `country` for a KYC (`kyb == false`) or
    /// KYB (`kyb == true`) session. Countries without a published list allow everything.
    #[must_use]
    pub fn allowed_for(&self, country: &Country, kyb: bool) -> bool {
        match DocumentType::kyc_allowed(country) {
            None => true,
            Some(list) => {
                list.contains(self) || (kyb && matches!(self, DocumentType::CompanyDocument))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values_round_trip_through_their_wire_spelling() {
        for status in SessionStatus::KNOWN {
            assert_eq!(&SessionStatus::parse(status.as_str()), status);
        }
        for doc in DocumentType::KNOWN {
            assert_eq!(&DocumentType::parse(doc.as_str()), doc);
        }
    }

    #[test]
    fn aliases_map_to_the_same_variant_and_serialise_canonically() {
        assert_eq!(StepStatus::parse("NOT AVAILABLE"), StepStatus::NotAvailable);
        assert_eq!(StepStatus::NotAvailable.as_str(), "NOT_AVAILABLE");
        assert_eq!(
            SessionStatus::parse("NOT VALIDATED"),
            SessionStatus::NotValidated
        );
    }

    #[test]
    fn argentina_has_no_drivers_licence_brazil_does_chile_is_open() {
        assert!(!DocumentType::DriverLicenseFront.allowed_for(&Country::Arg, false));
        assert!(DocumentType::DriverLicenseFront.allowed_for(&Country::Bra, false));
        assert!(!DocumentType::CompanyDocument.allowed_for(&Country::Bra, false));
        assert!(DocumentType::CompanyDocument.allowed_for(&Country::Bra, true));
        assert!(DocumentType::parse("passport").allowed_for(&Country::Chl, false));
    }

    proptest! {
        #[test]
        fn any_string_survives_a_json_round_trip(s in ".*") {
            let json = serde_json::to_string(&s).unwrap();
            let status: SessionStatus = serde_json::from_str(&json).unwrap();
            let back = serde_json::to_string(&status).unwrap();
            // Aliases are normalised; every other string comes back byte for byte.
            if status.is_known() {
                prop_assert_eq!(SessionStatus::parse(status.as_str()), status);
            } else {
                prop_assert_eq!(back, json);
            }
        }
    }
}
