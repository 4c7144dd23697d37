//! The rule every new passphrase follows (at `init` and at a change): at least
//! [`MIN_PASSPHRASE_CHARS`] characters, and a zxcvbn score of at least 3 (about 10^10
//! guesses: out of reach of an offline attack on a stolen laptop, given Argon2id's cost per
//! guess). A refusal says why in French, in words the counsellor choosing it can act on:
//! zxcvbn's own feedback is English, so each of its warnings and suggestions has a French
//! sentence here.

use zxcvbn::Score;
use zxcvbn::feedback::{Suggestion, Warning};

use crate::error::{Error, Result};

/// The fewest characters a new passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Words an attacker of this app's case files tries first: zxcvbn counts them as known
/// words, so "passerelle2026!" is as weak as it looks.
const CONTEXT_WORDS: &[&str] = &["passerelle", "motdepasse", "phrasesecrete", "phrasesecrète"];

/// Refuses a new passphrase that is too short or too easy to guess, with
/// [`Error::WeakPassphrase`] and its reason in French.
pub(crate) fn check_new_passphrase(passphrase: &str) -> Result<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::WeakPassphrase {
            reason: format!(
                "La phrase secrète doit compter au moins {MIN_PASSPHRASE_CHARS} caractères."
            ),
        });
    }
    let entropy = zxcvbn::zxcvbn(passphrase, CONTEXT_WORDS);
    if entropy.score() >= Score::Three {
        return Ok(());
    }
    let mut reason = String::from("Cette phrase secrète est trop facile à deviner.");
    let feedback = entropy.feedback();
    if let Some(warning) = feedback.and_then(|f| f.warning()) {
        reason.push(' ');
        reason.push_str(warning_fr(warning));
    }
    let suggestions = feedback.map(|f| f.suggestions()).unwrap_or_default();
    if suggestions.is_empty() {
        reason.push(' ');
        reason.push_str(suggestion_fr(Suggestion::AddAnotherWordOrTwo));
    }
    for suggestion in suggestions {
        reason.push(' ');
        reason.push_str(suggestion_fr(*suggestion));
    }
    Err(Error::WeakPassphrase { reason })
}

/// What zxcvbn found wrong, in French.
fn warning_fr(warning: Warning) -> &'static str {
    match warning {
        Warning::StraightRowsOfKeysAreEasyToGuess => {
            "Une rangée de touches du clavier se devine facilement."
        }
        Warning::ShortKeyboardPatternsAreEasyToGuess => {
            "Un petit motif tracé sur le clavier se devine facilement."
        }
        Warning::RepeatsLikeAaaAreEasyToGuess => {
            "Un caractère répété (comme « aaa ») se devine facilement."
        }
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => {
            "Un groupe répété (comme « abcabc ») n'est guère plus difficile à deviner que le \
             groupe seul."
        }
        Warning::ThisIsATop10Password
        | Warning::ThisIsATop100Password
        | Warning::ThisIsACommonPassword => "C'est l'un des mots de passe les plus courants.",
        Warning::ThisIsSimilarToACommonlyUsedPassword => {
            "Elle ressemble à un mot de passe très courant."
        }
        Warning::SequencesLikeAbcAreEasyToGuess => {
            "Une suite comme « abc » ou « 6543 » se devine facilement."
        }
        Warning::RecentYearsAreEasyToGuess => "Une année récente se devine facilement.",
        Warning::AWordByItselfIsEasyToGuess => "Un mot seul se devine facilement.",
        Warning::DatesAreOftenEasyToGuess => "Une date se devine facilement.",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess
        | Warning::CommonNamesAndSurnamesAreEasyToGuess => {
            "Un prénom ou un nom de famille se devine facilement."
        }
    }
}

/// What zxcvbn suggests, in French.
fn suggestion_fr(suggestion: Suggestion) -> &'static str {
    match suggestion {
        Suggestion::UseAFewWordsAvoidCommonPhrases => {
            "Prenez plusieurs mots, sans reprendre une expression connue."
        }
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => {
            "Nul besoin de symboles, de chiffres ni de majuscules."
        }
        Suggestion::AddAnotherWordOrTwo => "Ajoutez un ou deux mots, de préférence peu courants.",
        Suggestion::CapitalizationDoesntHelpVeryMuch => "Une majuscule n'aide pas beaucoup.",
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => {
            "Tout en majuscules se devine presque aussi facilement que tout en minuscules."
        }
        Suggestion::ReversedWordsArentMuchHarderToGuess => {
            "Un mot écrit à l'envers n'est guère plus difficile à deviner."
        }
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => {
            "Remplacer une lettre par un signe attendu (« @ » pour « a ») n'aide guère."
        }
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => {
            "Évitez les motifs tracés sur le clavier."
        }
        Suggestion::AvoidRepeatedWordsAndCharacters => {
            "Évitez de répéter des mots ou des caractères."
        }
        Suggestion::AvoidSequences => "Évitez les suites de lettres ou de chiffres.",
        Suggestion::AvoidRecentYears => "Évitez les années récentes.",
        Suggestion::AvoidYearsThatAreAssociatedWithYou => {
            "Évitez les années liées à vous ou à vos proches."
        }
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => {
            "Évitez les dates et les années liées à vous ou à vos proches."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(passphrase: &str) -> String {
        match check_new_passphrase(passphrase) {
            Err(Error::WeakPassphrase { reason }) => reason,
            other => panic!("expected {passphrase:?} to be refused as weak, got {other:?}"),
        }
    }

    #[test]
    fn a_short_passphrase_is_refused_with_the_length_it_needs() {
        for short in ["", "court", "Tr0ub4dor&3", "xq7#Lm2!vP9"] {
            assert_eq!(
                reason(short),
                "La phrase secrète doit compter au moins 12 caractères.",
                "{short:?} has fewer than 12 characters"
            );
        }
        // Characters, not bytes: 12 accented letters are enough characters, 11 are not.
        let accented = "éèàùçôîêâûëï";
        assert!(accented.len() > 12, "more bytes than characters");
        assert!(
            check_new_passphrase(accented).is_ok(),
            "12 characters are counted as 12, whatever their bytes"
        );
        assert!(reason(&accented[2..]).contains("au moins 12 caractères"));
    }

    #[test]
    fn a_long_but_guessable_passphrase_is_refused_with_why_in_french() {
        let cases = [
            ("aaaaaaaaaaaaaaaa", "Un caractère répété"),
            ("motdepasse123", "Ajoutez un ou deux mots"),
            ("passerelle2026!", "Ajoutez un ou deux mots"),
            ("Passerelle2026!", "Une majuscule n'aide pas beaucoup"),
            ("azertyuiop123", "Ajoutez un ou deux mots"),
            ("bonjour123456", "mot de passe très courant"),
            ("abcdefghijklmnop", "Une suite comme"),
        ];
        for (weak, expected) in cases {
            let reason = reason(weak);
            assert!(
                reason.starts_with("Cette phrase secrète est trop facile à deviner."),
                "{weak:?}: the reason opens with what is wrong: {reason}"
            );
            assert!(
                reason.contains(expected),
                "{weak:?}: expected the reason to say {expected:?}: {reason}"
            );
            assert!(
                !reason.contains("guess") && !reason.contains("password"),
                "{weak:?}: no English left in the reason: {reason}"
            );
        }
    }

    #[test]
    fn a_passphrase_of_a_few_uncommon_words_is_accepted() {
        for strong in [
            "mon chat dort au soleil",
            "tartine vélo nuage",
            "cheval agrafe pile correcte",
            "Ștefan a changé la phrase",
            "correct horse battery staple",
            "le camion bleu de Louise",
        ] {
            assert!(
                check_new_passphrase(strong).is_ok(),
                "{strong:?} should be strong enough"
            );
        }
    }

    #[test]
    fn every_warning_and_suggestion_has_french_words() {
        // The lists of zxcvbn 3: a new kind in a later version fails to compile in the
        // matches above, and each sentence here must stay a French sentence.
        let warnings = [
            Warning::StraightRowsOfKeysAreEasyToGuess,
            Warning::ShortKeyboardPatternsAreEasyToGuess,
            Warning::RepeatsLikeAaaAreEasyToGuess,
            Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
            Warning::ThisIsATop10Password,
            Warning::ThisIsATop100Password,
            Warning::ThisIsACommonPassword,
            Warning::ThisIsSimilarToACommonlyUsedPassword,
            Warning::SequencesLikeAbcAreEasyToGuess,
            Warning::RecentYearsAreEasyToGuess,
            Warning::AWordByItselfIsEasyToGuess,
            Warning::DatesAreOftenEasyToGuess,
            Warning::NamesAndSurnamesByThemselvesAreEasyToGuess,
            Warning::CommonNamesAndSurnamesAreEasyToGuess,
        ];
        let suggestions = [
            Suggestion::UseAFewWordsAvoidCommonPhrases,
            Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters,
            Suggestion::AddAnotherWordOrTwo,
            Suggestion::CapitalizationDoesntHelpVeryMuch,
            Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
            Suggestion::ReversedWordsArentMuchHarderToGuess,
            Suggestion::PredictableSubstitutionsDontHelpVeryMuch,
            Suggestion::UseALongerKeyboardPatternWithMoreTurns,
            Suggestion::AvoidRepeatedWordsAndCharacters,
            Suggestion::AvoidSequences,
            Suggestion::AvoidRecentYears,
            Suggestion::AvoidYearsThatAreAssociatedWithYou,
            Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou,
        ];
        let sentences = warnings
            .into_iter()
            .map(warning_fr)
            .chain(suggestions.into_iter().map(suggestion_fr));
        for sentence in sentences {
            assert!(
                sentence.ends_with('.') && sentence.starts_with(char::is_uppercase),
                "one sentence: {sentence:?}"
            );
        }
    }
}
