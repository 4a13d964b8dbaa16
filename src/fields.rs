//! The field names of a serde struct, read from its `Deserialize` impl.
//!
//! A derived `Deserialize` for a struct calls `deserialize_struct(name, fields, visitor)` with
//! the names it accepts (after `rename_all`). [`struct_fields`] hands it a deserializer that
//! records `fields` and stops there, so an options reader can list the known keys of a struct
//! without the list being typed a second time.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::fmt;

/// The fields `T` deserialises from, in declaration order; empty when `T` is not a struct
/// (or deserialises from something else, e.g. a map).
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(Recorder) {
        Err(Recorded(fields)) => fields,
        Ok(_) => &[],
    }
}

/// A deserializer that produces nothing: it fails at once, carrying the struct's field names
/// when asked for a struct.
struct Recorder;

/// The "error" [`Recorder`] stops with: the recorded field names.
#[derive(Debug)]
struct Recorded(&'static [&'static str]);

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fields {:?}", self.0)
    }
}

impl std::error::Error for Recorded {}

impl de::Error for Recorded {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Recorded(&[])
    }
}

impl<'de> Deserializer<'de> for Recorder {
    type Error = Recorded;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Recorded> {
        Err(Recorded(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Recorded> {
        Err(Recorded(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::struct_fields;
    use crate::project::pca::PcaOptions;
    use crate::project::tsne::Method;
    use crate::train::trainer::TrainerOptions;

    #[test]
    fn records_the_renamed_fields_of_a_struct() {
        assert_eq!(
            struct_fields::<PcaOptions>(),
            ["components", "whiten", "solver", "seed", "powerIterations"]
        );
        assert_eq!(
            struct_fields::<TrainerOptions>(),
            [
                "learningRate",
                "momentum",
                "weightDecay",
                "nesterov",
                "batchSize",
                "seed",
                "optimizer",
                "beta1",
                "beta2",
                "epsilon",
                "amsgrad",
                "loss",
                "l1",
                "l2",
                "schedule",
                "stepSize",
                "gamma",
                "tMax",
                "etaMin"
            ]
        );
    }

    #[test]
    fn anything_else_has_no_fields() {
        assert!(struct_fields::<Method>().is_empty());
        assert!(struct_fields::<Vec<f32>>().is_empty());
        assert!(struct_fields::<std::collections::HashMap<String, f32>>().is_empty());
    }
}
