//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if one is close enough to be a likely typo.
///
/// Closeness is the edit distance (insertions, deletions, substitutions and swaps of
/// neighbouring characters), ignoring ASCII case; a candidate qualifies within a third of
/// the word's length (at least 1, at most 3 edits). Ties go to the earlier candidate.
#[must_use]
pub fn suggest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    let word_chars: Vec<char> = word.chars().map(|c| c.to_ascii_lowercase()).collect();
    let limit = (word_chars.len() / 3).clamp(1, 3);
    let mut best: Option<(usize, &'k str)> = None;
    for candidate in candidates {
        let candidate_chars: Vec<char> =
            candidate.chars().map(|c| c.to_ascii_lowercase()).collect();
        let distance = edit_distance(&word_chars, &candidate_chars);
        let better = best.is_none_or(|(best_distance, _)| distance < best_distance);
        if distance <= limit && better {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
fn edit_distance(left: &[char], right: &[char]) -> usize {
    let width = right.len() + 1;
    let mut previous_row: Vec<usize> = vec![0; width];
    let mut row: Vec<usize> = (0..width).collect();
    let mut next_row: Vec<usize> = vec![0; width];
    for (i, left_char) in left.iter().enumerate() {
        next_row[0] = i + 1;
        for (j, right_char) in right.iter().enumerate() {
            let cost = usize::from(left_char != right_char);
            let mut distance = (row[j] + cost).min(row[j + 1] + 1).min(next_row[j] + 1);
            let swapped =
                i > 0 && j > 0 && *left_char == right[j - 1] && left[i - 1] == *right_char;
            if swapped {
                distance = distance.min(previous_row[j - 1] + 1);
            }
            next_row[j + 1] = distance;
        }
        std::mem::swap(&mut previous_row, &mut row);
        std::mem::swap(&mut row, &mut next_row);
    }
    row[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["node_name", "data_dir", "http", "log", "ready_file"];

    #[test]
    fn swapped_letters_are_one_edit() {
        assert_eq!(suggest("htpp", KNOWN), Some("http"));
        assert_eq!(suggest("data_dri", KNOWN), Some("data_dir"));
    }

    #[test]
    fn case_and_separator_slips_are_suggested() {
        assert_eq!(suggest("Node-Name", KNOWN), Some("node_name"));
        assert_eq!(suggest("readyfile", KNOWN), Some("ready_file"));
    }

    #[test]
    fn distant_words_get_no_suggestion() {
        assert_eq!(suggest("kafka", KNOWN), None);
        assert_eq!(suggest("x", &["http"]), None);
    }

    #[test]
    fn closest_candidate_wins() {
        assert_eq!(suggest("levle", &["levels", "level"]), Some("level"));
    }
}
