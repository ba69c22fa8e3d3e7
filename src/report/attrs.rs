//! A check's attributes (the JSON object of the input's other columns, as stored): reading one
//! column's value, shared by the attack report's dimension and face tables and by
//! `liveaudit checks --attr`, so a row's count and its drill-down read the value the same way.

/// The value of one column in a check's attributes (the JSON object of the input's other
/// columns), read without building the object: serde skips the other keys, and a string value
/// comes back borrowed. About three times cheaper than SQLite's `json_extract` per row.
/// Attributes that are not a JSON object read as having no such column.
pub(crate) fn attribute<'a>(attrs: &'a [u8], column: &str) -> Option<std::borrow::Cow<'a, str>> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::borrow::Cow;

    /// A value as the report shows it: a string as it is, a number or boolean as written,
    /// null as absent, an array or object as "(nested)".
    struct Text<'a>(Option<Cow<'a, str>>);
    impl<'de> serde::Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(TextVisitor)
        }
    }
    struct TextVisitor;
    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Text<'de>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Borrowed(v))))
        }
        fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_owned()))))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_bool<E>(self, v: bool) -> Result<Text<'de>, E> {
            Ok(Text(Some(Cow::Owned(v.to_string()))))
        }
        fn visit_unit<E>(self) -> Result<Text<'de>, E> {
            Ok(Text(None))
        }
        fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut s: S) -> Result<Text<'de>, S::Error> {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Text(Some(Cow::Borrowed("(nested)"))))
        }
        fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Text<'de>, M::Error> {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Text(Some(Cow::Borrowed("(nested)"))))
        }
    }
    struct Find<'c>(&'c str);
    impl<'de> DeserializeSeed<'de> for Find<'_> {
        type Value = Option<Cow<'de, str>>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut found = None;
            // Keys come back borrowed (serde's own `Cow` would allocate every one).
            while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                if key.as_deref() == Some(self.0) {
                    // The last of repeated keys wins, as when the object was written.
                    found = map.next_value::<Text<'de>>()?.0;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    // From the bytes: the strings serde reads are checked as UTF-8 on the way, not the whole text.
    Find(column)
        .deserialize(&mut serde_json::Deserializer::from_slice(attrs))
        .ok()
        .flatten()
}
