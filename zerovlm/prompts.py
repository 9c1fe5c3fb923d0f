"""Prompt templates: the text the VLM gets with the picture. The templates are yaml (conf/prompt/).

Fields: `question` gets {statement} {subject} {object} (caption choice asks `choice_question` instead, and
scores each caption as the answer; a multiple-choice question is asked by `multiple_choice` with {prompt} (the
question with its options, as the benchmark words it), {question} (bare) and {options} (lettered "A. ...");
`choice_answer` says what is scored as the answer: the option's `letter`, or its `text`); `single_original` /
`single_generated` (one view shown) get {question} {subject} {object} {view} (the paper's "Centered on the ..." names
the statement's subject, the object it is about); `multi` gets {views} {count} {question},
where {views} joins one `multi_item` per view shown ({label} {position}, positions from the layout).
`view_prompt: false` gives the question alone. With a 3D prior, `with_prior` ({prior} {question}) places its
text beside the question. A template naming a field it does not get fails when the prompt is built, naming
the fields it can use.
"""

from __future__ import annotations

import string

from zerovlm.backbones.answers import LETTERS, lettered
from zerovlm.data.sample import Sample
from zerovlm.stitch import Layout
from zerovlm.views import ORIGIN, Pose

# LLaVA-1.5's multiple-choice prompt (its MMBench / ScienceQA evaluation), as CV-Bench's authors use it
MULTIPLE_CHOICE = "{prompt}\nAnswer with the option's letter from the given choices directly."
CHOICE_ANSWERS = ("letter", "text")
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


# what each template can name (a statement's subject and object are its two objects: "the cup" left of "the plate")
PLACEHOLDERS = {"question": {"statement", "subject", "object"},
                "single_original": {"question", "subject", "object", "view"},
                "single_generated": {"question", "subject", "object", "view"},
                "multi": {"views", "count", "question"}, "multi_item": {"label", "position"},
                "with_prior": {"prior", "question"}, "multiple_choice": {"prompt", "question", "options"}}


def join_words(items: list[str]) -> str:
    """"a", "a and b", "a, b, and c"."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


class PromptBuilder:
    def __init__(self, name: str, question: str, view_prompt: bool = False, single_original: str = "{question}",
                 single_generated: str = "{question}", multi: str = "{question}",
                 multi_item: str = "the {label} {position}",
                 choice_question: str = "Describe the image in one short sentence.",
                 with_prior: str = "{prior}\n{question}",
                 multiple_choice: str = MULTIPLE_CHOICE, choice_answer: str = "letter") -> None:
        if choice_answer not in CHOICE_ANSWERS:
            raise ValueError(f"prompt.choice_answer={choice_answer!r}: choose one of {', '.join(CHOICE_ANSWERS)}")
        templates = {"question": question, "single_original": single_original, "single_generated": single_generated,
                     "multi": multi, "multi_item": multi_item, "with_prior": with_prior,
                     "multiple_choice": multiple_choice}
        for key, template in templates.items():
            fields = {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template)
                      if field is not None}
            unknown = sorted(fields - PLACEHOLDERS[key])
            if unknown:
                raise ValueError(f"prompt.{key} names {', '.join('{' + f + '}' for f in unknown)}, which it does not "
                                 f"have: it can use {', '.join('{' + f + '}' for f in sorted(PLACEHOLDERS[key]))}")
        self.name, self.question, self.view_prompt = name, question, view_prompt
        self.choice_question, self.with_prior = choice_question, with_prior
        self.multiple_choice, self.choice_answer = multiple_choice, choice_answer
        self.single_original, self.single_generated = single_original, single_generated
        self.multi, self.multi_item = multi, multi_item

    def __call__(self, sample: Sample, poses: list[Pose], layout: Layout, prior: str | None = None) -> str:
        if sample.question is not None:  # multiple choice: the question and its lettered options
            question = self.multiple_choice.format(prompt=sample.question, question=sample.statement,
                                                   options=lettered(sample.options))
        elif sample.options is not None:  # caption choice: the captions are scored as the answer to this
            question = self.choice_question
        else:
            question = self.question.format(statement=sample.statement, subject=sample.subject, object=sample.object)
        if prior is not None:  # a 3D prior's text, where `with_prior` puts it
            question = self.with_prior.format(prior=prior, question=question)
        if not self.view_prompt:
            return question
        if len(poses) == 1:
            template = self.single_original if poses[0].name == ORIGIN else self.single_generated
            return template.format(question=question, subject=sample.subject, object=sample.object,
                                   view=poses[0].display)
        items = [self.multi_item.format(label=p.display, position=where)
                 for p, where in zip(poses, layout.positions(len(poses)), strict=True)]
        views = join_words(items)
        return self.multi.format(views=views[:1].upper() + views[1:], count=NUMBER_WORDS.get(len(poses), len(poses)),
                                 question=question)

    def answers(self, sample: Sample) -> list[str] | None:
        """What the backbone scores as the answer to a sample's prompt: the captions of a caption choice; the
        letters of a multiple-choice question's options (or, with choice_answer=text, the options' texts); None
        for a true/false statement."""
        if sample.options is None:
            return None
        if sample.question is not None and self.choice_answer == "letter":
            return list(LETTERS[:len(sample.options)])
        return list(sample.options)
