"""The portal plus the baseline the API is measured against: one row read by primary key."""

from flask import jsonify

from portal import create_app
from portal.core.people.models.subject import Subject
from portal.extensions import db

app = create_app()


@app.get("/bench/bare/<int:subject_id>")
def bare(subject_id: int):
    subject = db.session.get(Subject, subject_id)
    return jsonify({"id": subject.id, "status": subject.status} if subject else {})
