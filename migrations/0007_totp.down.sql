DROP TABLE totp_factors;
