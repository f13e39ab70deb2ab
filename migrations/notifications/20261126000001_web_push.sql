-- Web Push: a browser's subscription keys travel with its pushes (the endpoint is the token).
ALTER TABLE pushes ADD COLUMN web_push_keys jsonb;
ALTER TABLE pushes ADD CONSTRAINT pushes_web_push_keys
    CHECK ((platform = 'web') = (web_push_keys IS NOT NULL));
