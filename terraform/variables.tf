variable "project" {
  description = "Name prefix for every resource."
  type        = string
  default     = "rapport"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-central-1"
}

variable "base_domain" {
  description = "The public site's domain (BASE_DOMAIN); workspaces live at <slug>.<base_domain>."
  type        = string
}

variable "hosted_zone_id" {
  description = "Existing Route 53 hosted zone that serves base_domain."
  type        = string
}

variable "vpc_cidr" {
  description = "Address range of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "image" {
  description = "Container image built from infra/Dockerfile, e.g. <account>.dkr.ecr.<region>.amazonaws.com/rapport:<tag>."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB (grows automatically up to db_max_allocated_storage)."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Upper bound for RDS storage autoscaling in GiB."
  type        = number
  default     = 500
}

variable "db_multi_az" {
  description = "Run a synchronous standby in a second availability zone."
  type        = bool
  default     = true
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "web_count" {
  description = "Number of web (ASGI) tasks."
  type        = number
  default     = 2
}

variable "worker_count" {
  description = "Number of Celery worker tasks."
  type        = number
  default     = 2
}

variable "web_cpu" {
  description = "Fargate CPU units per web task."
  type        = number
  default     = 512
}

variable "web_memory" {
  description = "Fargate memory (MiB) per web task."
  type        = number
  default     = 1024
}

variable "worker_cpu" {
  description = "Fargate CPU units per worker task."
  type        = number
  default     = 512
}

variable "worker_memory" {
  description = "Fargate memory (MiB) per worker task."
  type        = number
  default     = 1024
}

variable "spare_pool_size" {
  description = "SPARE_WORKSPACE_POOL_SIZE: pre-migrated schemas kept ready for signup."
  type        = number
  default     = 5
}

variable "email_host" {
  description = "SMTP host for outgoing mail (e.g. email-smtp.<region>.amazonaws.com for SES)."
  type        = string
  default     = ""
}

variable "email_port" {
  description = "SMTP port."
  type        = number
  default     = 587
}

variable "email_host_user" {
  description = "SMTP user name."
  type        = string
  default     = ""
}

variable "email_host_password" {
  description = "SMTP password; stored in Secrets Manager, never in the task definition."
  type        = string
  default     = ""
  sensitive   = true
}

variable "default_from_email" {
  description = "Sender of platform emails, e.g. \"Rapport <no-reply@example.com>\"."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the containers."
  type        = number
  default     = 30
}
