//! Small text rules shared by drafts and records: tag normalisation and slugs from titles.

use crate::Slug;

/// A tag as stored: trimmed, lower case, inner white space collapsed to single spaces.
pub fn normalize_tag(tag: &str) -> String {
    tag.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A tag as compared: [`normalize_tag`] in lower case. `LoRaWAN` and `lorawan` are one tag;
/// the author's spelling is what is stored and shown.
pub fn fold_tag(tag: &str) -> String {
    normalize_tag(tag).to_lowercase()
}

/// A slug derived from a title or name: lower-case ASCII words joined by `-`, accents dropped,
/// cut at a word boundary to fit [`Slug::MAX_LEN`]. Falls back to `record` for a title with no
/// letters or digits.
pub fn slugify(title: &str) -> Slug {
    let mut slug = String::new();
    let mut pending_dash = false;
    for c in title.chars().flat_map(fold_accent) {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if slug.len() > Slug::MAX_LEN {
        let cut = slug[..=Slug::MAX_LEN]
            .rfind('-')
            .filter(|&at| at > 0)
            .unwrap_or(Slug::MAX_LEN);
        slug.truncate(cut);
        while slug.ends_with('-') {
            slug.pop();
        }
    }
    if slug.is_empty() {
        slug.push_str("record");
    }
    Slug::new(&slug).expect("slugify builds valid slugs")
}

/// Latin letters with accents map to their base letter, so "Café Élan" becomes "cafe-elan".
fn fold_accent(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        'ł' | 'Ł' => "l",
        _ => "",
    };
    let keep = folded.is_empty().then_some(c);
    folded.chars().chain(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_titles() {
        assert_eq!(
            slugify("Virtual Town Hall pilot").as_str(),
            "virtual-town-hall-pilot"
        );
        assert_eq!(slugify("  Café   Élan: 2024!  ").as_str(), "cafe-elan-2024");
        assert_eq!(slugify("???").as_str(), "record");
        let long = slugify(&"word ".repeat(40));
        assert!(long.as_str().len() <= Slug::MAX_LEN);
        assert!(!long.as_str().ends_with('-'));
    }

    #[test]
    fn tags_are_folded_to_one_form() {
        assert_eq!(normalize_tag("  Digital   Inclusion "), "Digital Inclusion");
        assert_eq!(fold_tag("  Digital   Inclusion "), "digital inclusion");
    }
}
