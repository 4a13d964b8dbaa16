//! Named choices: one table per enum gives its names, parsing, printing and serde form.
//!
//! [`named_enum!`] turns `Variant = "name"` pairs into the enum (each variant's doc gains its
//! name, the enum's doc the full list) with
//!
//! - `ALL` and `NAMES`, every variant and every name in table order;
//! - `name()`, the variant's name, and [`std::fmt::Display`] printing it;
//! - [`std::str::FromStr`], the one way to parse a name: exact, case-sensitive, failing with
//!   [`Error::Unknown`](crate::Error::Unknown) ("expected one of: ..." with every name);
//! - serde `Serialize` / `Deserialize` as the name, so options structs read and write it.
//!
//! Names are camelCase, the JavaScript API's spelling; each variant has exactly one.

/// Declares a named-choice enum from its table; see the [module documentation](self).
///
/// ```text
/// named_enum! {
///     /// How channels are combined.
///     #[derive(Default)]
///     pub enum Reduction: "channel reduction" {
///         /// `max_c |a_c|`.
///         #[default]
///         MaxAbs = "maxAbs",
///         /// `Σ_c a_c`.
///         Sum = "sum",
///     }
/// }
/// ```
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $Enum:ident: $kind:literal {
            $( $(#[$variant_meta:meta])* $Variant:ident = $name:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[doc = ""]
        #[doc = concat!("Names: ", $("`\"", $name, "\"` "),+)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $Enum {
            $(
                $(#[$variant_meta])*
                #[doc = concat!("\n\nName: `\"", $name, "\"`.")]
                $Variant,
            )+
        }

        impl $Enum {
            /// Every variant, in the order of `NAMES`.
            pub const ALL: &'static [$Enum] = &[$($Enum::$Variant),+];

            #[doc = concat!("Every ", $kind, " name, the only spellings `parse` accepts.")]
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The variant's name (one of `NAMES`).
            pub fn name(self) -> &'static str {
                match self {
                    $($Enum::$Variant => $name,)+
                }
            }
        }

        impl ::std::fmt::Display for $Enum {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::std::str::FromStr for $Enum {
            type Err = $crate::Error;

            #[doc = concat!("The ", $kind, " called `name`; an unknown name is an error listing `NAMES`.")]
            fn from_str(name: &str) -> $crate::Result<Self> {
                match name {
                    $($name => Ok($Enum::$Variant),)+
                    other => Err($crate::Error::unknown($kind, other, $Enum::NAMES)),
                }
            }
        }

        impl ::serde::Serialize for $Enum {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $Enum {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let name = <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                name.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use crate::data::features::PlaygroundFeature;
    use crate::data::playground::PlaygroundTask;
    use crate::data::DataKind;
    use crate::explain::display::{Reduction, Sign};
    use crate::explain::{MethodKind, Rule, Variant};
    use crate::project::pca::Solver;
    use crate::project::tsne::{Init, Method as TsneMethod};
    use crate::render::Colormap;
    use std::fmt::Display;
    use std::str::FromStr;

    /// Every name parses to its variant and back, through `FromStr`, `Display` and serde; an
    /// unknown name's error lists every name.
    fn round_trips<T>(all: &[T], names: &[&str])
    where
        T: FromStr<Err = crate::Error>
            + Display
            + Copy
            + PartialEq
            + std::fmt::Debug
            + serde::Serialize
            + serde::de::DeserializeOwned,
    {
        assert_eq!(all.len(), names.len());
        for (&variant, &name) in all.iter().zip(names) {
            assert_eq!(name.parse::<T>().unwrap(), variant);
            assert_eq!(variant.to_string(), name);
            let json = serde_json::to_string(&variant).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), variant);
            assert!(
                !name.contains('_') && name.starts_with(|c: char| c.is_ascii_lowercase()),
                "{name} is not camelCase"
            );
        }
        let err = "no such name".parse::<T>().unwrap_err().to_string();
        assert!(err.contains("'no such name'"), "{err}");
        assert!(err.ends_with(&names.join(", ")), "{err}");
        let err = serde_json::from_str::<T>("\"no such name\"").unwrap_err();
        assert!(err.to_string().contains(&names.join(", ")), "{err}");
        let err = serde_json::from_str::<T>("3").unwrap_err();
        assert!(err.to_string().contains("expected a string"), "{err}");
    }

    #[test]
    fn every_name_round_trips_and_unknown_names_list_all() {
        round_trips(Variant::ALL, Variant::NAMES);
        round_trips(MethodKind::ALL, MethodKind::NAMES);
        round_trips(Reduction::ALL, Reduction::NAMES);
        round_trips(Sign::ALL, Sign::NAMES);
        round_trips(Rule::ALL, Rule::NAMES);
        round_trips(Colormap::ALL, Colormap::NAMES);
        round_trips(TsneMethod::ALL, TsneMethod::NAMES);
        round_trips(Init::ALL, Init::NAMES);
        round_trips(Solver::ALL, Solver::NAMES);
        round_trips(PlaygroundTask::ALL, PlaygroundTask::NAMES);
        round_trips(PlaygroundFeature::ALL, PlaygroundFeature::NAMES);
        round_trips(DataKind::ALL, DataKind::NAMES);
    }

    #[test]
    fn names_are_exact() {
        assert!("Viridis".parse::<Colormap>().is_err());
        assert!(" viridis".parse::<Colormap>().is_err());
        assert!("covariance_eigh".parse::<Solver>().is_err());
        assert!("barnes_hut".parse::<TsneMethod>().is_err());
        assert!("absolute_value".parse::<Sign>().is_err());
        assert!("gausslegendre".parse::<Rule>().is_err());
        assert!("smoothgrad_sq".parse::<Variant>().is_err());
    }
}
